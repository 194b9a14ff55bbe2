package org.scoligait.edge.app

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import org.scoligait.edge.core.Catalog
import org.scoligait.edge.core.Contract
import org.scoligait.edge.core.ModelOutputs
import org.scoligait.edge.core.ModelRunner
import java.nio.FloatBuffer
import java.nio.LongBuffer

/** The bundle's model (`.ort`, or `.onnx`) on ONNX Runtime Mobile's CPU execution provider. */
class OrtMobileRunner(model: ByteArray, threads: Int = 2) : ModelRunner {
    private val env = OrtEnvironment.getEnvironment()
    private val session: OrtSession = OrtSession.SessionOptions().use { opts ->
        opts.setIntraOpNumThreads(threads)
        env.createSession(model, opts)
    }

    val inputNames: Set<String> get() = session.inputNames
    val outputNames: Set<String> get() = session.outputNames

    override fun run(kmap: FloatArray, silhouette: FloatArray, promptId: LongArray): ModelOutputs {
        val n = promptId.size.toLong()
        val w = Contract.WINDOW.toLong()
        OnnxTensor.createTensor(env, FloatBuffer.wrap(kmap), longArrayOf(n, w, Catalog.N_FEATURES.toLong())).use { k ->
            OnnxTensor.createTensor(env, FloatBuffer.wrap(silhouette), longArrayOf(n, w, Contract.SIL_H.toLong(), Contract.SIL_W.toLong())).use { s ->
                OnnxTensor.createTensor(env, LongBuffer.wrap(promptId), longArrayOf(n)).use { p ->
                    session.run(mapOf("kmap" to k, "silhouette" to s, "prompt_id" to p)).use { r ->
                        fun out(name: String): FloatArray {
                            val t = r.get(name).orElseThrow { IllegalStateException("model has no output '$name'") } as OnnxTensor
                            val b = t.floatBuffer
                            return FloatArray(b.remaining()).also { b.get(it) }
                        }
                        return ModelOutputs(out("referral_logit"), out("referral_prob"), out("cobb_angle"), out("saliency"))
                    }
                }
            }
        }
    }

    override fun close() {
        session.close()
    }
}
