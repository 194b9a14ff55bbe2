package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Causal 30 Hz resampling against `PoseStream.__iter__` on irregular source frame times. */
class ResamplerTest {
    @Test
    fun sourceFramesGiveThePythonThirtyHertzFrames() {
        for (v in Vectors.list(Vectors.index["resample"]).map { Vectors.map(it) }) {
            val times = Vectors.doubles(v["times"])
            val pose = Vectors.floats(v["pose"])
            val want = Vectors.floats(v["expected"])
            val r = Resampler()
            val got = ArrayList<Float>()
            for (i in times.indices) {
                for (f in r.push(times[i], pose.copyOfRange(51 * i, 51 * i + 51))) got += f.pose.toList()
            }
            assertEquals("${v["name"]}: frame count", want.size / 51, got.size / 51)
            for (i in want.indices) {
                val a = want[i]
                val b = got[i]
                val same = (a.isNaN() && b.isNaN()) || a == b
                if (!same) throw AssertionError("${v["name"]} frame ${i / 51} joint ${(i % 51) / 3} ch ${i % 3}: kotlin $b python $a")
            }
        }
    }

    @Test
    fun silhouettesAndPeopleComeFromTheNearerSourceFrame() {
        val r = Resampler()
        val a = ByteArray(64 * 44) { 1 }
        val b = ByteArray(64 * 44) { 2 }
        val f = FloatArray(51) { 1f }
        assertEquals(1, r.push(0.0, f, a, 1).size) // t = 0
        val out = r.push(0.05, f, b, 2) // 30 Hz samples at 0.0333 (nearer to 0.05)
        assertEquals(1, out.size)
        assertEquals(2, out[0].people)
        assertTrue(out[0].silhouette!![0] == 2.toByte())
        val out2 = r.push(0.1, f, a, 3) // samples at 0.0667 (nearer 0.05) and 0.1
        assertEquals(listOf(2, 3), out2.map { it.people })
    }
}
