package io.courier.examples.quickstart;

/** Placeholder main until the router exists; replaced in the next step of this change. */
public final class Quickstart {
    public static void main(String[] args) {
    }
}
