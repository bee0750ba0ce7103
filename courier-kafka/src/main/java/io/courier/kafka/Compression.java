package io.courier.kafka;

/**
 * Producer compression codec ({@code compression.type}). Batches are compressed as a whole, so
 * compression pays off together with {@link KafkaConfig#linger() linger} and
 * {@link KafkaConfig#batchSizeBytes() batch size}. The codecs' native libraries come with
 * {@code kafka-clients}.
 */
public enum Compression {
    /** No compression (the default). */
    NONE("none"),
    /** gzip: best ratio of the classic codecs, most CPU. */
    GZIP("gzip"),
    /** Snappy: fast, moderate ratio. */
    SNAPPY("snappy"),
    /** LZ4: very fast, moderate ratio; a good default for throughput. */
    LZ4("lz4"),
    /** Zstandard: good ratio at moderate CPU. */
    ZSTD("zstd");

    private final String kafkaName;

    Compression(String kafkaName) {
        this.kafkaName = kafkaName;
    }

    /** The value of Kafka's {@code compression.type} setting. */
    public String kafkaName() {
        return kafkaName;
    }
}
