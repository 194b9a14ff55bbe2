package org.scoligait.edge.core

import org.junit.Assert.assertTrue
import org.junit.Test
import kotlin.math.abs

/** Silhouettes from person masks against `pose.video.silhouette_64x44` (OpenCV bicubic resize). */
class SilhouetteTest {
    @Test
    fun masksGiveThePythonSilhouettes() {
        val failures = ArrayList<String>()
        for (v in Vectors.list(Vectors.index["silhouettes"]).map { Vectors.map(it) }) {
            val shape = Vectors.shape(v["mask"])
            val mask = Vectors.floats(v["mask"])
            val want = Vectors.u8(v["expected"])
            val got = Silhouettes.fromMask(mask, shape[1], shape[0])
            var maxd = 0
            var differ = 0
            for (i in want.indices) {
                val d = abs((want[i].toInt() and 0xff) - (got[i].toInt() and 0xff))
                if (d > 0) differ++
                maxd = maxOf(maxd, d)
            }
            Vectors.record("silhouette max |Δ| (grey levels)", maxd.toDouble())
            Vectors.record("silhouette pixels differing (of 2816)", differ.toDouble())
            // OpenCV's SIMD bicubic rounds some edge pixels one level differently
            if (maxd > 2 || differ > 40) failures += "${v["name"]}: max |Δ| $maxd, $differ pixels differ"
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
    }

    @Test
    fun emptyAndSingleRowMasksGiveEmptySilhouettes() {
        assertTrue(Silhouettes.fromMask(FloatArray(100), 10, 10).all { it.toInt() == 0 })
        val row = FloatArray(100).also { for (x in 2..7) it[50 + x] = 1f }
        assertTrue(Silhouettes.fromMask(row, 10, 10).all { it.toInt() == 0 })
    }
}
