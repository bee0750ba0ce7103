package io.courier.jdbc.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;

/** Headers stored as a JSON object of strings; no headers are stored as SQL NULL. */
public final class HeadersJson {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final TypeReference<LinkedHashMap<String, String>> TYPE = new TypeReference<>() {
    };

    private HeadersJson() {
    }

    /** JSON text, or null for an empty map. */
    public static String write(Map<String, String> headers) {
        if (headers.isEmpty()) {
            return null;
        }
        try {
            return MAPPER.writeValueAsString(headers);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write headers as JSON", e);
        }
    }

    /** The headers; empty for null. */
    public static Map<String, String> read(String json) {
        if (json == null || json.isEmpty()) {
            return Map.of();
        }
        try {
            return MAPPER.readValue(json, TYPE);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored headers are not a JSON object of strings: " + json, e);
        }
    }
}
