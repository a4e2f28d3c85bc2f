package org.gptjvm.tornado;

import org.gptjvm.engine.Backend;

import java.util.List;

/** What {@link TornadoProvider} asks of TornadoVM, implemented by the -Ptornado build's code. */
interface TornadoRuntime {

    /** A backend on device {@code spec} (as numbered by {@link #devices}; null: TornadoVM's default). */
    Backend create(String spec);

    /** One line per device of every TornadoVM backend (OpenCL, PTX, ...), numbered from 0. */
    List<String> devices();

    /** Whether one of those devices is not a CPU: a GPU, an accelerator, an FPGA. */
    boolean hasAccelerator();
}
