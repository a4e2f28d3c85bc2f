package org.gptjvm.tornado;

import org.gptjvm.model.conformance.ModelConformance;

/** The model conformance suite on the tornado backend (the module's pom names it: gpt.conformance.backends). */
class TornadoModelConformanceTest extends ModelConformance {
}
