package org.gptjvm.model.conformance;

/** The model conformance suite on this module's backends (the reference and cpu). */
class ModelConformanceTest extends ModelConformance {
}
