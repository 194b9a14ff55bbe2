package org.scoligait.edge.core

import kotlin.math.abs

/** Parity tolerances (`scoligait_edge.runtime.parity.Tolerance`). */
data class Tolerance(val atol: Map<String, Double>, val saliencyTv: Double, val minAgreement: Double) {
    companion object {
        fun from(m: Map<*, *>): Tolerance = Tolerance(
            (m["atol"] as? Map<*, *>).orEmpty().mapNotNull { (k, v) -> (v as? Number)?.let { k.toString() to it.toDouble() } }.toMap(),
            (m["saliency_tv"] as? Number)?.toDouble() ?: Double.POSITIVE_INFINITY,
            (m["min_agreement"] as? Number)?.toDouble() ?: 0.0,
        )
    }
}

/** Golden inputs of a bundle and its stored outputs (`reference/…`, optional `expected/…`). */
class GoldenVectors(
    val n: Int,
    val kmap: FloatArray,
    val silhouette: FloatArray,
    val promptId: LongArray,
    val reference: Map<String, FloatArray>,
    val expected: Map<String, FloatArray>?,
)

/** One comparison (vs the reference or vs the expected outputs) with its figures and verdict. */
class GoldenCheck(val name: String, val maxAbs: Map<String, Double>, val tvMax: Map<String, Double>, val agreement: Double, val failures: List<String>) {
    val passed: Boolean get() = failures.isEmpty()
}

class GoldenReport(val windows: Int, val checks: List<GoldenCheck>) {
    val failures: List<String> get() = checks.flatMap { c -> c.failures.map { "${c.name}: $it" } }
    val passed: Boolean get() = failures.isEmpty()

    fun summary(): String = if (passed) {
        "golden vectors passed ($windows windows; " + checks.joinToString("; ") { c ->
            "${c.name}: max |Δprob| ${"%.2g".format(c.maxAbs["referral_prob"] ?: 0.0)}, agreement ${"%.0f".format(100 * c.agreement)}%"
        } + ")"
    } else "golden vectors FAILED: " + failures.joinToString("; ")
}

/**
 * The golden-vector self-test (`scoligait_edge/runtime/golden.py`): the bundle's `golden.npz`
 * holds a few windows (kmap as float16, silhouettes bit-packed along the last axis, prompt ids)
 * and the reference outputs computed on exactly those inputs, scalar outputs as they are and
 * saliency as its feature and time marginals (`saliency_features` = sum over time,
 * `saliency_time` = sum over features). The app runs them at first start and refuses a bundle
 * that fails: max |Δ| per scalar output ≤ `atol`, saliency total-variation distance ≤
 * `saliency_tv`, decision agreement ≥ `min_agreement` (the manifest's `golden.tolerance_*`).
 */
object Golden {
    val SCALAR_OUTPUTS = listOf("referral_logit", "referral_prob", "cobb_angle")

    fun read(files: BundleFiles, manifest: Manifest): GoldenVectors {
        val g = manifest.golden ?: throw BundleException(
            "bundle ${files.name} has no golden vectors",
            "re-export it with this version of scoligait-edge (bundles carry golden.npz since schema 2)",
        )
        val name = g["file"] as? String ?: throw BundleException("bundle ${files.name} golden entry names no file", "re-export")
        val a = try {
            files.open(name).use { NpyArray.readNpz(it) }
        } catch (e: Exception) {
            throw BundleException("golden vectors $name of bundle ${files.name} are unreadable (${e.message})", "re-copy or re-export the bundle")
        }
        try {
            val km = a.getValue("kmap")
            val bits = a.getValue("silhouette_bits")
            val pid = a.getValue("prompt_id").longs()
            val n = pid.size
            require(km.shape.contentEquals(intArrayOf(n, Contract.WINDOW, Catalog.N_FEATURES))) { "kmap shape ${km.shape.toList()}" }
            val packed = (Contract.SIL_W + 7) / 8
            require(bits.shape.contentEquals(intArrayOf(n, Contract.WINDOW, Contract.SIL_H, packed))) { "silhouette_bits shape ${bits.shape.toList()}" }
            val raw = bits.bytes()
            val rows = n * Contract.WINDOW * Contract.SIL_H
            val sil = FloatArray(rows * Contract.SIL_W)
            for (r in 0 until rows) for (c in 0 until Contract.SIL_W) {
                val byte = raw[r * packed + c / 8].toInt() and 0xff
                sil[r * Contract.SIL_W + c] = if ((byte shr (7 - c % 8)) and 1 == 1) 1f else 0f // np.packbits: big bit order
            }
            fun outputs(prefix: String): Map<String, FloatArray>? {
                val keys = a.keys.filter { it.startsWith("$prefix/") }
                return if (keys.isEmpty()) null else keys.associate { it.substringAfter('/') to a.getValue(it).floats() }
            }
            val ref = outputs("reference") ?: throw IllegalArgumentException("no reference outputs")
            return GoldenVectors(n, km.floats(), sil, pid, ref, outputs("expected"))
        } catch (e: Exception) {
            if (e is BundleException) throw e
            throw BundleException(
                "golden vectors $name of bundle ${files.name} are malformed (${e.javaClass.simpleName}: ${e.message})",
                "re-copy or re-export the bundle",
            )
        }
    }

    /** Scalar outputs + saliency marginals of model outputs (what the golden file stores). */
    fun candidate(out: ModelOutputs): Map<String, FloatArray> {
        val n = out.batch
        val w = Contract.WINDOW
        val f = Catalog.N_FEATURES
        val feats = FloatArray(n * f)
        val time = FloatArray(n * w)
        for (b in 0 until n) {
            val fs = DoubleArray(f)
            for (t in 0 until w) {
                var ts = 0.0
                for (k in 0 until f) {
                    val v = out.saliency[(b * w + t) * f + k].toDouble()
                    fs[k] += v
                    ts += v
                }
                time[b * w + t] = ts.toFloat()
            }
            for (k in 0 until f) feats[b * f + k] = fs[k].toFloat()
        }
        return mapOf(
            "referral_logit" to out.referralLogit, "referral_prob" to out.referralProb, "cobb_angle" to out.cobbAngle,
            "saliency_features" to feats, "saliency_time" to time,
        )
    }

    fun compare(name: String, ref: Map<String, FloatArray>, cand: Map<String, FloatArray>, n: Int, threshold: Double, tol: Tolerance): GoldenCheck {
        val maxAbs = LinkedHashMap<String, Double>()
        val tvMax = LinkedHashMap<String, Double>()
        val failures = ArrayList<String>()
        for (k in SCALAR_OUTPUTS.filter { it in ref } + ref.keys.filter { it.startsWith("saliency") }.sorted()) {
            val r = ref.getValue(k)
            val c = cand[k] ?: run { failures += "candidate outputs lack '$k'"; null } ?: continue
            if (r.size != c.size) { failures += "output '$k' has ${c.size} values, reference ${r.size}"; continue }
            if (c.any { !it.isFinite() }) { maxAbs[k] = Double.POSITIVE_INFINITY; if (k.startsWith("saliency")) tvMax[k] = Double.POSITIVE_INFINITY; continue }
            var m = 0.0
            for (i in r.indices) m = maxOf(m, abs(r[i].toDouble() - c[i].toDouble()))
            maxAbs[k] = m
            if (k.startsWith("saliency") && n > 0) {
                val per = r.size / n
                var tv = 0.0
                for (b in 0 until n) {
                    var s = 0.0
                    for (i in b * per until (b + 1) * per) s += abs(r[i].toDouble() - c[i].toDouble())
                    tv = maxOf(tv, 0.5 * s)
                }
                tvMax[k] = tv
            }
        }
        val rp = ref.getValue("referral_prob")
        val cp = cand.getValue("referral_prob")
        val agree = if (cp.all { it.isFinite() } && rp.isNotEmpty()) {
            rp.indices.count { (rp[it] >= threshold) == (cp[it] >= threshold) }.toDouble() / rp.size
        } else 0.0
        for ((k, lim) in tol.atol) {
            val got = maxAbs[k] ?: continue
            if (!(got <= lim)) failures += "$k max |Δ| ${"%.3g".format(got)} > ${lim}"
        }
        if (tvMax.isNotEmpty() && !(tvMax.values.max() <= tol.saliencyTv)) {
            failures += "saliency total-variation distance ${"%.3g".format(tvMax.values.max())} > ${tol.saliencyTv}"
        }
        if (agree < tol.minAgreement) failures += "decision agreement ${"%.1f".format(100 * agree)}% < ${"%.1f".format(100 * tol.minAgreement)}%"
        return GoldenCheck(name, maxAbs, tvMax, agree, failures)
    }

    /** Run the golden vectors through `runner` and judge them (vs reference, and vs expected if stored). */
    fun run(runner: ModelRunner, files: BundleFiles, manifest: Manifest): GoldenReport {
        val g = read(files, manifest)
        val cand = candidate(runner.run(g.kmap, g.silhouette, g.promptId))
        val meta = manifest.golden!!
        val thr = manifest.decisionThreshold
        val checks = ArrayList<GoldenCheck>()
        val tr = meta["tolerance_reference"] as? Map<*, *>
            ?: throw BundleException("bundle ${files.name} golden entry has no tolerance_reference", "re-export the bundle")
        checks += compare("vs_reference", g.reference, cand, g.n, thr, Tolerance.from(tr))
        val te = meta["tolerance_expected"] as? Map<*, *>
        if (g.expected != null && te != null) checks += compare("vs_expected", g.expected, cand, g.n, thr, Tolerance.from(te))
        return GoldenReport(g.n, checks)
    }
}
