package io.courier.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every relative link of README.md and docs/**&#47;*.md points to a file that exists and, with a
 * {@code #fragment}, to a heading of that page (GitHub's anchor rules: lower case, punctuation
 * removed, spaces to hyphens). Pages move and headings change; a dangling link fails here.
 */
class DocsLinksTest {

    private static final Pattern FENCED = Pattern.compile("(?ms)^\\s*(`{3,}|~{3,}).*?^\\s*\\1\\s*$");
    private static final Pattern INLINE_CODE = Pattern.compile("`[^`\\n]*`");
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern HEADING = Pattern.compile("(?m)^#{1,6}\\s+(.+?)\\s*#*\\s*$");

    @Test
    void everyRelativeLinkAndAnchorResolves() throws IOException {
        Path root = DocPages.ROOT;
        List<String> broken = new ArrayList<>();
        for (Path page : DocPages.all()) {
            String text = prose(Files.readString(page, StandardCharsets.UTF_8));
            Matcher m = LINK.matcher(text);
            while (m.find()) {
                String link = m.group(1);
                if (link.matches("^[a-z][a-z0-9+.-]*:.*")) {   // http:, https:, mailto:
                    continue;
                }
                int hash = link.indexOf('#');
                String file = hash < 0 ? link : link.substring(0, hash);
                Path target = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
                String where = root.relativize(page) + ": (" + link + ")";
                if (!Files.exists(target)) {
                    broken.add(where + " points to a missing file");
                } else if (hash >= 0 && target.toString().endsWith(".md")
                        && !anchors(Files.readString(target, StandardCharsets.UTF_8)).contains(link.substring(hash + 1))) {
                    broken.add(where + " names no heading of " + root.relativize(target));
                }
            }
        }
        assertThat(broken).as("broken links in the docs").isEmpty();
    }

    @Test
    void anchorsFollowGitHubRules() {
        assertThat(anchors("## Consumer groups and `StartPosition.EARLIEST`\n### Retention and cleanup"))
                .containsExactlyInAnyOrder("consumer-groups-and-startpositionearliest", "retention-and-cleanup");
    }

    /** The page without code, whose brackets and parentheses are not links. */
    private static String prose(String markdown) {
        return INLINE_CODE.matcher(FENCED.matcher(markdown).replaceAll("")).replaceAll("");
    }

    static Set<String> anchors(String markdown) {
        Set<String> anchors = new HashSet<>();
        Matcher m = HEADING.matcher(FENCED.matcher(markdown).replaceAll(""));
        while (m.find()) {
            String slug = m.group(1).toLowerCase(Locale.ROOT)
                    .replaceAll("[^\\p{L}\\p{N}\\s_-]", "")
                    .replace(' ', '-');
            String unique = slug;
            for (int n = 1; !anchors.add(unique); n++) {
                unique = slug + "-" + n;
            }
        }
        return anchors;
    }
}
