package org.gptjvm.engine.device;

/**
 * What one kernel launch of a program asks of a device, for {@code gpt bench --plan}: its work
 * sizes, the model FLOPs it performs and the bytes it moves, and the local memory of a work-group.
 *
 * @param kernel     the kernel's name
 * @param global     global work size per dimension (x, y, z); zeros for a call into a library (a vendor's
 *                   matrix product), which sizes its own launches
 * @param local      work-group size per dimension; zeros where the device chooses
 * @param flops      floating-point operations (a multiply-add counts two)
 * @param bytesRead  bytes read from device memory (each input once: what the kernel must read)
 * @param bytesWritten bytes written
 * @param localBytes local (shared) memory per work-group
 */
public record LaunchInfo(String kernel, long[] global, long[] local, double flops, double bytesRead,
                         double bytesWritten, long localBytes) {

    public long workItems() {
        return global[0] * global[1] * global[2];
    }

    /** Whether this is a call into a library, whose work sizes and local memory are its own (unknown here). */
    public boolean library() {
        return global[0] == 0 && global[1] == 0 && global[2] == 0;
    }
}
