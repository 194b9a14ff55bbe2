package org.scoligait.edge.core

import java.math.BigDecimal
import java.math.RoundingMode

/** One explained feature: catalog entry, share of all saliency, and the time span around its peak. */
data class TopFeature(
    val index: Int,
    val name: String,
    val label: String,
    val domain: String,
    val score: Double,
    val startFrame: Int,
    val endFrame: Int,
    val startSeconds: Double,
    val endSeconds: Double,
) {
    fun toJson(): Map<String, Any?> = linkedMapOf(
        "index" to index, "name" to name, "label" to label, "domain" to domain, "score" to score,
        "frames" to listOf(startFrame, endFrame), "seconds" to listOf(startSeconds, endSeconds),
    )
}

/**
 * Explanations: the model's saliency output (`[96, 238]` per window) → clip saliency → the top
 * features per domain with clinical labels and time spans. A port of
 * `scoligait_edge.screen.explain.top_features` / `time_span` and of the overlap-add in
 * `explain_windows`.
 */
object Explain {
    /**
     * Overlap-add window saliency onto the clip's `nFrames` frames (a window ending at frame `e`
     * covers `[e − window, e)`), average where windows overlap, normalise to sum 1.
     * Returns `[nFrames × 238]` row-major float64.
     */
    fun clipSaliency(ends: List<Long>, saliency: List<FloatArray>, nFrames: Int, window: Int = 96): DoubleArray {
        val n = Catalog.N_FEATURES
        val acc = DoubleArray(nFrames * n)
        val cover = IntArray(nFrames)
        for ((e, m) in ends.zip(saliency)) {
            require(m.size == window * n) { "saliency of one window must be [$window, $n]" }
            val s = (e - window).toInt()
            for (t in 0 until window) {
                val row = s + t
                if (row < 0 || row >= nFrames) continue
                cover[row]++
                for (f in 0 until n) acc[row * n + f] += m[t * n + f].toDouble()
            }
        }
        var total = 0.0
        for (t in 0 until nFrames) {
            val c = maxOf(cover[t], 1).toDouble()
            for (f in 0 until n) { acc[t * n + f] /= c; total += acc[t * n + f] }
        }
        val d = maxOf(total, 1e-30)
        for (k in acc.indices) acc[k] /= d
        return acc
    }

    /** Frames `[start, end)` around the peak of `profile` where it stays ≥ `frac` · peak. */
    fun timeSpan(profile: DoubleArray, frac: Double = 0.5): Pair<Int, Int> {
        var t = 0
        for (i in profile.indices) if (profile[i] > profile[t]) t = i
        val thr = frac * profile[t]
        var s = t
        var e = t + 1
        while (s > 0 && profile[s - 1] >= thr) s--
        while (e < profile.size && profile[e] >= thr) e++
        return s to e
    }

    /** Python's `round(x, 3)`: the double's exact value rounded half-to-even. */
    fun round3(x: Double): Double = BigDecimal(x).setScale(3, RoundingMode.HALF_EVEN).toDouble()

    /** Top `topK` features per domain of a `[nFrames × 238]` saliency map. */
    fun topFeatures(sal: DoubleArray, nFrames: Int, topK: Int = 3, fps: Double = 30.0, frameOffset: Int = 0):
        LinkedHashMap<String, List<TopFeature>> {
        val n = Catalog.N_FEATURES
        require(sal.size == nFrames * n && nFrames > 0) { "saliency must be [T, $n] with T > 0" }
        var total = 0.0
        for (v in sal) total += v
        total = maxOf(total, 1e-30)
        val score = DoubleArray(n)
        for (t in 0 until nFrames) for (f in 0 until n) score[f] += sal[t * n + f]
        val out = LinkedHashMap<String, List<TopFeature>>()
        for ((domain, range) in Catalog.DOMAINS) {
            val idx = range.sortedWith(compareBy { -score[it] }).take(topK) // stable: ties by index
            out[domain] = idx.map { i ->
                val profile = DoubleArray(nFrames) { sal[it * n + i] }
                val (s, e) = timeSpan(profile)
                val f = Catalog.FEATURES[i]
                TopFeature(
                    i, f.name, f.label, f.domain, profile.sum() / total,
                    frameOffset + s, frameOffset + e,
                    round3((frameOffset + s) / fps), round3((frameOffset + e) / fps),
                )
            }
        }
        return out
    }
}
