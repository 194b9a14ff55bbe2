package org.scoligait.edge.core.ort

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import org.scoligait.edge.core.Catalog
import org.scoligait.edge.core.DirectoryBundle
import org.scoligait.edge.core.Golden
import org.scoligait.edge.core.Manifest
import org.scoligait.edge.core.Screener
import org.scoligait.edge.core.Vectors
import java.io.File
import kotlin.math.abs

/**
 * The bundle's model run on the JVM through the ONNX Runtime C library (JNA): golden vectors, then
 * the whole pipeline (Kotlin windows → model → verdict) against the Python pipeline.
 */
class OrtInferenceTest {
    private fun lib(): String {
        val p = System.getProperty("scoligait.ortlib")
        assumeTrue("no ONNX Runtime C library given (-Dscoligait.ortlib; the onnxruntime wheel ships one)", p != null && File(p).isFile)
        return p!!
    }

    private fun bundle(): Pair<DirectoryBundle, Manifest> {
        val b = Vectors.bundleDir
        assumeTrue("no sample bundle in the vectors", b != null && b.isDirectory)
        val files = DirectoryBundle(b!!)
        return files to Manifest.verify(files)
    }

    @Test
    fun apiVersion() {
        val v = OrtApi(lib()).version
        assertTrue(v, Regex("""\d+\.\d+\.\d+.*""").matches(v))
        println("     ONNX Runtime C library $v through JNA")
    }

    @Test
    fun goldenVectorsPassOnTheJvm() {
        val lib = lib()
        val (files, m) = bundle()
        assumeTrue("bundle without golden vectors", m.golden != null)
        for (model in listOf(m.artifact, m.mobileModel()).distinct()) {
            OrtJnaRunner(lib, File(files.dir, model).path).use { r ->
                val rep = Golden.run(r, files, m)
                println("     $model: ${rep.summary()}")
                assertTrue("$model: ${rep.summary()}", rep.passed)
                for (c in rep.checks) Vectors.record("golden max |Δprob| JVM ORT ($model)", c.maxAbs["referral_prob"] ?: 0.0)
            }
        }
    }

    @Test
    fun kotlinWindowsThroughTheModelGiveThePythonOutputsAndVerdicts() {
        val lib = lib()
        val (files, m) = bundle()
        val thr = m.decisionThreshold
        val per = 96 * Catalog.N_FEATURES
        var windows = 0
        OrtJnaRunner(lib, File(files.dir, m.mobileModel()).path).use { runner ->
            for (case in Vectors.cases) {
                val model = case["model"]?.let { Vectors.map(it) }
                val name = case["name"] as String
                val s = Screener(thr, Vectors.sourceFps(case))
                val sils = Vectors.silhouettes(case)
                val people = Vectors.people(case)
                var k = 0
                val pyProb = model?.let { Vectors.list(it["referral_prob"]).map { v -> (v as Number).toDouble() } }
                val pySal = model?.let { Vectors.floats(it["saliency"]) }
                for ((t, f) in Vectors.frames(case).withIndex()) {
                    val w = s.push(f, sils?.get(t), people?.get(t)) ?: continue
                    val r = s.run(runner, w)
                    val dp = abs(r.referralProb - pyProb!![k])
                    var ds = 0.0
                    for (i in 0 until per) ds = maxOf(ds, abs(r.saliency[i].toDouble() - pySal!![k * per + i]))
                    Vectors.record("model prob |Δ| JVM ORT vs Python ORT (${case["kind"]})", dp)
                    Vectors.record("model saliency |Δ| JVM ORT vs Python ORT", ds)
                    assertTrue("$name window $k: |Δprob| $dp", dp <= 1e-4)
                    k++
                    windows++
                }
                val res = s.finish()
                val want = Vectors.map(case["expected_verdict"])
                assertEquals(name, want["verdict"], res.verdict.wire)
            }
        }
        assertTrue(windows > 100)
    }
}
