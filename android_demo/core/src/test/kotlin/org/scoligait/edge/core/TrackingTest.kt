package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Person tracking and landmark boxes against `pose.video.PersonTracker` / `pose_bbox`. */
class TrackingTest {
    private val v = Vectors.map(Vectors.index["tracking"])

    @Test
    fun trackerMakesThePythonChoices() {
        var jumps = 0
        for (seq in Vectors.list(v["sequences"]).map { Vectors.map(it) }) {
            val tr = PersonTracker()
            val frames = Vectors.list(seq["frames"]).map { f ->
                Vectors.list(f).map { b -> Vectors.list(b).map { (it as Number).toDouble() }.let { Box(it[0], it[1], it[2], it[3]) } }
            }
            val got = frames.map { tr.choose(it) ?: -1 }
            assertEquals(Vectors.list(seq["chosen"]).map { (it as Number).toInt() }, got)
            assertEquals((seq["jumps"] as Number).toInt(), tr.jumps)
            jumps += tr.jumps
        }
        assertTrue("the sequences exercise re-acquisition", jumps > 0)
    }

    @Test
    fun landmarkBoxes() {
        for (b in Vectors.list(v["bboxes"]).map { Vectors.map(it) }) {
            val lm = Vectors.list(b["landmarks"]).map { (it as Number).toFloat() }.toFloatArray()
            val want = Vectors.list(b["box"]).map { (it as Number).toDouble() }
            val got = Box.ofLandmarks(lm)
            assertEquals(want, listOf(got.x0, got.y0, got.x1, got.y1))
        }
    }
}
