package io.courier;

/** An operation was attempted on a transport, publisher or subscription that is closed. */
public class TransportClosedException extends CourierException {

    /** The closed component is named in the message. */
    public TransportClosedException(String message) {
        super(message);
    }
}
