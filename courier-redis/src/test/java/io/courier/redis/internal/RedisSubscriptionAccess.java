package io.courier.redis.internal;

/** Test access to package-private helpers of the subscription. */
public final class RedisSubscriptionAccess {

    private RedisSubscriptionAccess() {
    }

    /** See {@link RedisSubscription#errorCode(Throwable)}. */
    public static String errorCode(Throwable e) {
        return RedisSubscription.errorCode(e);
    }
}
