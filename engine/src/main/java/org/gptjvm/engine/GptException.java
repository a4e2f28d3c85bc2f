package org.gptjvm.engine;

/** An error whose message is meant for the user: the CLI prints it on one line, without a stack trace. */
public class GptException extends RuntimeException {
    public GptException(String message) {
        super(message);
    }

    public GptException(String message, Throwable cause) {
        super(message, cause);
    }
}
