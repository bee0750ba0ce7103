package io.courier.docs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Where the checked pages are: README.md and docs/**&#47;*.md of the repository this module is in. */
final class DocPages {

    /** The repository root: the nearest folder above this module with a README.md and a docs/ folder. */
    static final Path ROOT = repositoryRoot();

    private DocPages() {
    }

    /** README.md, then every page under docs/, in path order. */
    static List<Path> all() throws IOException {
        List<Path> pages = new ArrayList<>();
        pages.add(ROOT.resolve("README.md"));
        try (Stream<Path> docs = Files.walk(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        return pages;
    }

    /** {@code page} relative to the root, with forward slashes (e.g. {@code docs/testkit.md}). */
    static String name(Path page) {
        return ROOT.relativize(page).toString().replace('\\', '/');
    }

    private static Path repositoryRoot() {
        Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
        for (Path dir = module; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("README.md")) && Files.isDirectory(dir.resolve("docs"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no README.md with a docs/ folder above " + module);
    }
}
