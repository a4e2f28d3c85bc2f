package org.gptjvm.tornado;

import org.gptjvm.engine.conformance.KernelConformance;

/** The kernel conformance suite on the tornado backend (the module's pom names it: gpt.conformance.backends). */
class TornadoKernelConformanceTest extends KernelConformance {
}
