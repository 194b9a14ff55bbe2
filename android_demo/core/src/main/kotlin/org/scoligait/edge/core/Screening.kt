package org.scoligait.edge.core

/** The model contract (`scoligait_edge.contract`): fixed sizes of every exported graph. */
object Contract {
    const val WINDOW = 96
    const val SIL_H = 64
    const val SIL_W = 44
    const val FPS = 30.0
    val INPUT_NAMES = listOf("kmap", "silhouette", "prompt_id")
    val OUTPUT_NAMES = listOf("referral_logit", "referral_prob", "cobb_angle", "saliency")
}

/** Outputs of a batch of `n` windows (contract order); saliency is `[n × 96 × 238]`. */
class ModelOutputs(
    val referralLogit: FloatArray,
    val referralProb: FloatArray,
    val cobbAngle: FloatArray,
    val saliency: FloatArray,
) {
    val batch: Int get() = referralProb.size
}

/**
 * Runs a bundle's model on a batch of windows. Implemented by the app (ONNX Runtime Mobile on the
 * bundle's `.ort`) and, in the JVM tests, by a JNA binding of the ONNX Runtime C API.
 * `kmap` is `[n × 96 × 238]` raw (the graph normalises it), `silhouette` `[n × 96 × 64 × 44]`
 * in [0, 1], `promptId` `[n]`.
 */
interface ModelRunner : AutoCloseable {
    fun run(kmap: FloatArray, silhouette: FloatArray, promptId: LongArray): ModelOutputs
    override fun close() {}
}

/** One model input window, as the streaming pipeline emits it. */
class WindowInput(val window: KmapWindow, val silhouette: FloatArray, val promptId: Int) {
    val endFrame: Long get() = window.endFrame
}

/** The model's answer for one window. */
class WindowResult(val endFrame: Long, val referralProb: Float, val referralLogit: Float, val cobbAngle: Float, val saliency: FloatArray)

enum class Verdict(val wire: String) {
    REFER("refer"), NO_REFERRAL("no-referral"), RETAKE("retake");

    companion object {
        fun parse(s: String): Verdict = entries.first { it.wire == s }
    }
}

/** A clip decision with the reasons for a retake. */
data class Decision(val verdict: Verdict, val referralProb: Double?, val threshold: Double, val reasons: List<String>, val windows: Int)

/**
 * The clip verdict rule (README "Verdict"):
 *
 * 1. `retake` when any quality check fails (reasons: the failing checks in gate order), or when
 *    no window was emitted (fewer than 96 frames at 30 Hz: reason `duration`);
 * 2. otherwise the clip's referral probability is the **mean of the window probabilities**
 *    (every emitted window, hop 16, float64 mean) — the same aggregate as
 *    `scoligait_edge.screen.explain.explain_windows` — and the verdict is `refer` when it is
 *    ≥ the bundle's `decision_threshold`, else `no-referral`.
 */
object Verdicts {
    fun decide(quality: QualityReport, windowProbs: List<Float>, threshold: Double): Decision {
        val reasons = quality.failed.map { it.name }.toMutableList()
        if (windowProbs.isEmpty() && "duration" !in reasons) reasons += "duration"
        if (reasons.isNotEmpty()) return Decision(Verdict.RETAKE, null, threshold, reasons, windowProbs.size)
        var s = 0.0
        for (p in windowProbs) s += p.toDouble()
        val p = s / windowProbs.size
        return Decision(if (p >= threshold) Verdict.REFER else Verdict.NO_REFERRAL, p, threshold, emptyList(), windowProbs.size)
    }
}

/** Everything the app shows at the end of a clip (and writes as `result.json`). */
class ScreeningResult(
    val decision: Decision,
    val quality: QualityReport,
    val windows: List<WindowResult>,
    val cobbAngle: Double?,
    val explanation: Map<String, List<TopFeature>>?,
    val frames: Long,
    val bundle: String?,
) {
    val verdict: Verdict get() = decision.verdict

    fun toJson(): Map<String, Any?> = linkedMapOf(
        "format" to "scoligait-screening-result",
        "version" to RESULT_VERSION,
        "verdict" to decision.verdict.wire,
        "referral_prob" to decision.referralProb,
        "threshold" to decision.threshold,
        "reasons" to decision.reasons.map { r ->
            linkedMapOf("check" to r, "remedy" to (QualityCheck.REMEDIES[r] ?: ""))
        },
        "cobb_angle_estimate" to cobbAngle,
        "cobb_caveat" to "a model estimate from gait, not a measurement; only an X-ray measures the Cobb angle",
        "frames" to frames,
        "quality" to quality.toJson(),
        "windows" to windows.map { linkedMapOf("end_frame" to it.endFrame, "referral_prob" to it.referralProb.toDouble()) },
        "top_features" to explanation?.mapValues { (_, v) -> v.map { it.toJson() } },
        "catalog_hash" to Catalog.HASH,
        "bundle" to bundle,
    )

    companion object {
        const val RESULT_VERSION = 1
    }
}

/**
 * The on-device screening pipeline for one clip: 30 Hz pose frames (+ silhouettes) in →
 * streaming knowledge map + quality gate + prompt ids → model windows out → verdict and
 * explanation. Mirrors the Python `screen` pipeline's shape (push a frame, get window inputs).
 *
 * ```
 * val s = Screener(threshold = manifest.decisionThreshold, sourceFps = 30.0)
 * for (frame in frames) s.push(frame, silhouette)?.let { w -> s.addResult(w, runner.runOne(w)) }
 * val result = s.finish()
 * ```
 */
class Screener(
    val threshold: Double,
    sourceFps: Double,
    val hop: Int = 16,
    val thresholds: QualityThresholds = QualityThresholds(),
    val topK: Int = 3,
    val bundleName: String? = null,
) {
    private val kmap = StreamingKnowledgeMap(Contract.WINDOW, hop, Contract.FPS)
    private val gate = QualityGate(sourceFps, thresholds)
    private val silRing = Array(Contract.WINDOW) { ByteArray(Contract.SIL_H * Contract.SIL_W) }
    private val results = ArrayList<WindowResult>()
    var frames = 0L; private set

    val quality: QualityReport get() = gate.report()

    /** The source frame rate the quality gate judges (a live camera's is measured as it runs). */
    var sourceFps: Double
        get() = gate.sourceFps
        set(v) { gate.sourceFps = v }

    /**
     * Push one 30 Hz frame (51 floats), its silhouette (64 × 44 uint8 0/255, row-major; null =
     * none) and how many people the pose source saw (null = unknown). Returns the model input
     * when a window is due.
     */
    fun push(frame: FloatArray, silhouette: ByteArray? = null, people: Int? = null): WindowInput? {
        val slot = (frames % Contract.WINDOW).toInt()
        if (silhouette != null) {
            require(silhouette.size == Contract.SIL_H * Contract.SIL_W) { "silhouettes are 64 × 44" }
            System.arraycopy(silhouette, 0, silRing[slot], 0, silhouette.size)
        } else {
            silRing[slot].fill(0)
        }
        frames++
        gate.push(frame, people)
        val w = kmap.push(frame) ?: return null
        return WindowInput(w, silhouetteWindow(), Prompts.promptId(w))
    }

    private fun silhouetteWindow(): FloatArray {
        val px = Contract.SIL_H * Contract.SIL_W
        val out = FloatArray(Contract.WINDOW * px)
        val start = (frames % Contract.WINDOW).toInt()
        for (t in 0 until Contract.WINDOW) {
            val src = silRing[(start + t) % Contract.WINDOW]
            for (k in 0 until px) out[t * px + k] = (src[k].toInt() and 0xff).toFloat() / 255f
        }
        return out
    }

    /** Run `runner` on one window and record the result. */
    fun run(runner: ModelRunner, input: WindowInput): WindowResult {
        val out = runner.run(input.window.rows, input.silhouette, longArrayOf(input.promptId.toLong()))
        return addResult(input.endFrame, out, 0)
    }

    /** Record output `index` of a batch for the window ending at `endFrame`. */
    fun addResult(endFrame: Long, out: ModelOutputs, index: Int = 0): WindowResult {
        val n = Contract.WINDOW * Catalog.N_FEATURES
        val r = WindowResult(
            endFrame, out.referralProb[index], out.referralLogit[index], out.cobbAngle[index],
            out.saliency.copyOfRange(index * n, (index + 1) * n),
        )
        results += r
        return r
    }

    fun finish(): ScreeningResult {
        val q = gate.report()
        val d = Verdicts.decide(q, results.map { it.referralProb }, threshold)
        val expl = if (results.isEmpty()) null else {
            val sal = Explain.clipSaliency(results.map { it.endFrame }, results.map { it.saliency }, frames.toInt())
            Explain.topFeatures(sal, frames.toInt(), topK, Contract.FPS)
        }
        val cobb = if (results.isEmpty() || d.verdict == Verdict.RETAKE) null else results.map { it.cobbAngle.toDouble() }.average()
        return ScreeningResult(d, q, results.toList(), cobb, expl, frames, bundleName)
    }
}
