package io.courier.redis;

/**
 * The whole conformance suite against a transport with {@link RedisConfig.Builder#keyOrdering key
 * ordering} on, so that {@code perKeyOrdering} runs and every other test proves the key-ordered
 * read, settle and reclaim paths keep the transport's other guarantees. Same setup as
 * {@link RedisConformanceTest} (a Redis server the test owns, behind a TCP proxy), including the
 * SIGKILL test's child JVM, which builds a key-ordered transport too.
 */
class RedisKeyOrderedConformanceTest extends RedisConformanceTest {

    @Override
    protected boolean keyOrdered() {
        return true;
    }
}
