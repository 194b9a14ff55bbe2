package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * The app's per-frame glue (tracking → COCO → resampling → screener → model) on ScoliGait-Synth
 * clips presented as MediaPipe detections at 30 fps, with a distracting second walker.
 */
class LiveSessionTest {
    /** Replays the Python model outputs of the case, window by window. */
    private class Replay(case: Map<String, Any?>) : ModelRunner {
        private val m = Vectors.map(case["model"])
        private val prob = Vectors.list(m["referral_prob"]).map { (it as Number).toFloat() }
        private val logit = Vectors.list(m["referral_logit"]).map { (it as Number).toFloat() }
        private val cobb = Vectors.list(m["cobb_angle"]).map { (it as Number).toFloat() }
        private val sal = Vectors.floats(m["saliency"])
        var k = 0
        val seen = ArrayList<FloatArray>()
        override fun run(kmap: FloatArray, silhouette: FloatArray, promptId: LongArray): ModelOutputs {
            seen += kmap.copyOf()
            val per = 96 * Catalog.N_FEATURES
            val out = ModelOutputs(floatArrayOf(logit[k]), floatArrayOf(prob[k]), floatArrayOf(cobb[k]), sal.copyOfRange(k * per, (k + 1) * per))
            k++
            return out
        }
    }

    /** MediaPipe-like 33 landmarks from a COCO-17 frame (unmapped landmarks sit on the nose). */
    private fun landmarks(coco: FloatArray, dx: Float = 0f, scale: Float = 1f): FloatArray {
        val out = FloatArray(33 * 3)
        for (m in 0 until 33) System.arraycopy(coco, 0, out, 3 * m, 3)
        for (j in 0 until 17) System.arraycopy(coco, 3 * j, out, 3 * Coco.MEDIAPIPE_TO_COCO[j], 3)
        if (dx != 0f || scale != 1f) for (m in 0 until 33) { out[3 * m] = out[3 * m] * scale + dx; out[3 * m + 1] *= scale }
        return out
    }

    private fun detected(f: FloatArray): Boolean = (0 until 17).count { f[3 * it + 2] >= 0.3f && f[3 * it].isFinite() } >= 4

    @Test
    fun synthClipsGiveThePythonVerdictThroughTheLivePipeline() {
        assumeTrue("vectors without a model", Vectors.threshold != null)
        val names = listOf("synth_00", "synth_02", "synth_03", "synth_06", "synth_08", "synth_side", "synth_small")
        val verdicts = HashSet<String>()
        for (name in names) {
            val case = Vectors.cases.first { it["name"] == name }
            val frames = Vectors.frames(case)
            val distract = Vectors.frames(Vectors.cases.first { it["name"] == "synth_00" })
            val seen = ArrayList<List<FloatArray>>()
            for (withDistractor in listOf(false, true)) {
                val replay = Replay(case)
                val s = LiveSession(Vectors.threshold!!, replay)
                var upd: LiveUpdate? = null
                for ((t, f) in frames.withIndex()) {
                    val people = ArrayList<DetectedPerson>()
                    if (detected(f)) people += DetectedPerson(landmarks(f))
                    // a smaller walker elsewhere in the picture, in two frames of three (only while the child is seen:
                    // after 5 frames without the child the tracker would rightly take whoever is left)
                    if (withDistractor && detected(f) && t % 3 != 0) people += DetectedPerson(landmarks(distract[t], dx = 900f, scale = 0.3f))
                    upd = s.onCameraFrame(t / 30.0, people)
                }
                val r = s.finish()
                assertEquals(frames.size.toLong(), upd!!.frames)
                assertEquals(30.0, upd.cameraFps, 1e-6)
                if (withDistractor) {
                    assertEquals(name, "retake", r.verdict.wire) // several people in view: never a decision
                    assertTrue(name, "several_people" in r.decision.reasons)
                } else {
                    assertEquals("$name ${r.decision.reasons}", Vectors.map(case["expected_verdict"])["verdict"], r.verdict.wire)
                }
                verdicts += r.verdict.wire
                seen += replay.seen
            }
            // the tracker stayed on the child: the model saw the same windows with and without the distractor
            assertEquals(name, seen[0].size, seen[1].size)
            for (i in seen[0].indices) assertTrue("$name window $i", seen[0][i].contentEquals(seen[1][i]))
        }
        assertTrue(verdicts.containsAll(listOf("refer", "no-referral", "retake")))
    }

    @Test
    fun meterAndTracker() {
        val m = FrameRateMeter()
        for (i in 0 until 40) m.push(i / 24.0)
        assertEquals(24.0, m.fps, 1e-9)
        val tr = PersonTracker()
        val big = Box(0.0, 0.0, 100.0, 300.0)
        val small = Box(500.0, 0.0, 530.0, 90.0)
        assertEquals(0, tr.choose(listOf(big, small)))
        assertEquals(1, tr.choose(listOf(small, big.copy(x0 = 5.0, x1 = 105.0)))) // follows the overlap
    }
}
