package io.courier.testkit.fault;

/** A child main for {@link ChildJvmTest}: prints its arguments and a system property, then waits or exits. */
public final class PrintingMain {

    private PrintingMain() {
    }

    /** {@code exit <code>} exits at once; anything else is printed, then the process waits to be killed. */
    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("exit")) {
            System.err.println("exiting on request");
            System.exit(Integer.parseInt(args[1]));
        }
        for (String a : args) {
            System.out.println("ARG " + a);
        }
        System.out.println("PROP " + System.getProperty("test.prop"));
        System.out.println("WAITING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
