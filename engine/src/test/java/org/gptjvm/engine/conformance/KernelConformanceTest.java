package org.gptjvm.engine.conformance;

/** The kernel conformance suite on this module's backends (the cpu backend against the reference). */
class KernelConformanceTest extends KernelConformance {
}
