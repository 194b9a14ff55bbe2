package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

/**
 * Golden-vector plumbing: reading the bundle's golden.npz (float16 kmap, bit-packed silhouettes)
 * and judging a runner's outputs with the manifest's tolerances. The real model runs in
 * `ort.OrtInferenceTest` (JVM, JNA) and in the app (ONNX Runtime Mobile).
 */
class GoldenTest {
    private fun bundle(): Pair<DirectoryBundle, Manifest> {
        val b = Vectors.bundleDir
        assumeTrue("no sample bundle in the vectors", b != null && File(b, "manifest.json").isFile)
        val files = DirectoryBundle(b!!)
        val m = Manifest.verify(files)
        assumeTrue("the sample bundle has no golden vectors", m.golden != null)
        return files to m
    }

    /** Replays the stored reference outputs; saliency = time ⊗ feature marginals (same marginals). */
    private class Replay(val g: GoldenVectors, val dprob: Float = 0f, val nan: Boolean = false) : ModelRunner {
        override fun run(kmap: FloatArray, silhouette: FloatArray, promptId: LongArray): ModelOutputs {
            val n = promptId.size
            val feats = g.reference.getValue("saliency_features")
            val time = g.reference.getValue("saliency_time")
            val w = 96
            val f = Catalog.N_FEATURES
            val sal = FloatArray(n * w * f)
            for (b in 0 until n) for (t in 0 until w) for (k in 0 until f) sal[(b * w + t) * f + k] = time[b * w + t] * feats[b * f + k]
            val prob = g.reference.getValue("referral_prob").copyOf()
            for (i in prob.indices) prob[i] = if (nan && i == 0) Float.NaN else prob[i] + dprob
            return ModelOutputs(g.reference.getValue("referral_logit"), prob, g.reference.getValue("cobb_angle"), sal)
        }
    }

    @Test
    fun goldenFileReadsAsPythonWroteIt() {
        val (files, m) = bundle()
        val g = Golden.read(files, m)
        assertTrue(g.n in 1..64)
        assertEquals(g.n * 96 * 238, g.kmap.size)
        assertEquals(g.n * 96 * 64 * 44, g.silhouette.size)
        assertTrue(g.silhouette.all { it == 0f || it == 1f })
        assertTrue("silhouettes are not empty", g.silhouette.count { it == 1f } > 1000)
        assertTrue(g.promptId.all { it in 0 until Prompts.PROMPTS.size })
        for (k in Golden.SCALAR_OUTPUTS) assertEquals(k, g.n, g.reference.getValue(k).size)
        // each window's saliency marginals sum to 1
        val tm = g.reference.getValue("saliency_time")
        for (b in 0 until g.n) assertEquals(1.0, (0 until 96).sumOf { tm[b * 96 + it].toDouble() }, 1e-4)
        assertTrue(g.kmap.all { it.isFinite() })
    }

    @Test
    fun matchingOutputsPassAndWrongOnesFail() {
        val (files, m) = bundle()
        val g = Golden.read(files, m)
        val ok = Golden.run(Replay(g), files, m)
        assertTrue(ok.summary(), ok.passed)
        val off = Golden.run(Replay(g, dprob = 0.1f), files, m)
        assertFalse(off.passed)
        assertTrue(off.summary(), off.failures.any { "referral_prob" in it })
        val nan = Golden.run(Replay(g, nan = true), files, m)
        assertFalse(nan.passed)
        assertTrue(nan.summary(), nan.failures.any { "agreement" in it || "referral_prob" in it })
    }

    @Test
    fun marginalsOfAFullSaliencyMap() {
        val w = 96
        val f = Catalog.N_FEATURES
        val sal = FloatArray(w * f) { 1f / (w * f) }
        val c = Golden.candidate(ModelOutputs(floatArrayOf(0f), floatArrayOf(0.5f), floatArrayOf(3f), sal))
        assertEquals(f, c.getValue("saliency_features").size)
        assertEquals(w, c.getValue("saliency_time").size)
        assertEquals(1.0 / f, c.getValue("saliency_features")[7].toDouble(), 1e-7)
        assertEquals(1.0 / w, c.getValue("saliency_time")[5].toDouble(), 1e-7)
    }

    @Test
    fun bundleWithoutGoldenIsRefusedBySelfTest() {
        val (files, m) = bundle()
        val stripped = Manifest(m.json.filterKeys { it != "golden" })
        try {
            Golden.read(files, stripped)
            throw AssertionError("read golden vectors of a manifest without them")
        } catch (e: BundleException) {
            assertTrue(e.message!!.contains("no golden vectors"))
        }
    }
}
