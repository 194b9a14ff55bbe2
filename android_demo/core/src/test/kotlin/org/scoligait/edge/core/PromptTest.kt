package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import kotlin.math.abs

class PromptTest {
    private val prompts = Vectors.map(Vectors.index["prompts"])

    @Test
    fun promptTableAndThresholdsMatchPython() {
        assertEquals(Vectors.list(prompts["texts"]), Prompts.PROMPTS)
        assertEquals(154, Prompts.PROMPTS.size)
        assertEquals(Vectors.list(prompts["cues"]), Prompts.CUES)
        val thr = Vectors.map(prompts["thresholds"])
        for ((c, cue) in Prompts.CUES.withIndex()) {
            assertEquals(cue, Vectors.list(thr[cue]).map { (it as Number).toDouble() }, Prompts.THRESHOLDS[c].toList())
        }
        assertEquals((prompts["ratio_floor"] as Number).toDouble(), Prompts.RATIO_FLOOR, 0.0)
    }

    @Test
    fun promptIdsOfPythonWindowsAreExact() {
        var n = 0
        for (case in Vectors.cases) {
            val w = Vectors.map(case["windows"])
            val ids = (w["prompt_ids"] as? List<*>)?.map { (it as Number).toInt() } ?: continue
            val cues = Vectors.list(w["cue_values"]).map { row -> Vectors.list(row).map { (it as Number).toDouble() } }
            val rows = Vectors.floats(w["kmap"])
            val per = 96 * Catalog.N_FEATURES
            for (k in ids.indices) {
                val v = Prompts.cueValues(rows.copyOfRange(k * per, (k + 1) * per), 96)
                for (c in 0 until 6) assertEquals("${case["name"]} window $k cue $c", cues[k][c], v[c], 1e-12 * maxOf(1.0, abs(cues[k][c])))
                assertEquals("${case["name"]} window $k", ids[k], Prompts.promptId(v))
                n++
            }
        }
        assertTrue(n > 100)
    }

    @Test
    fun promptIdsOfKotlinWindowsMatchPython() {
        var n = 0
        val distinct = HashSet<Int>()
        for (case in Vectors.cases) {
            val ids = (Vectors.map(case["windows"])["prompt_ids"] as? List<*>)?.map { (it as Number).toInt() } ?: continue
            val s = StreamingKnowledgeMap()
            val got = Vectors.frames(case).mapNotNull { s.push(it) }.map { Prompts.promptId(it) }
            assertEquals(case["name"] as String, ids, got)
            n += got.size
            distinct += got
        }
        assertTrue("only ${distinct.size} distinct prompts", distinct.size >= 5)
    }

    @Test
    fun idFormula() {
        val zero = DoubleArray(6)
        assertEquals(0, Prompts.promptId(zero))
        // one marked shoulder tilt → 1 + 0·3 + 2
        assertEquals(3, Prompts.promptId(doubleArrayOf(20.0, 0.0, 0.0, 0.0, 0.0, 0.0)))
        assertEquals("marked shoulder tilt, otherwise symmetric gait", Prompts.text(3))
        // mild pelvic tilt + moderate head offset, strongest two named in cue order
        val v = doubleArrayOf(0.0, 3.1, 0.0, 0.0, 0.1, 0.0)
        assertEquals("mild pelvic tilt and moderate head offset", Prompts.text(Prompts.promptId(v)))
        // three graded cues: strengths 5/4.81 = 1.040, 6/3.03 = 1.98, 7/6.74 = 1.039 → trunk lean is dropped
        val three = doubleArrayOf(5.0, 6.0, 7.0, 0.0, 0.0, 0.0)
        assertEquals("mild shoulder tilt and moderate pelvic tilt", Prompts.text(Prompts.promptId(three)))
    }
}
