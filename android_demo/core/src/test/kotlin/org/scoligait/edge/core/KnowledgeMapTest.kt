package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import kotlin.math.abs

/** The Kotlin knowledge map against the Python offline and streaming maps of every case. */
class KnowledgeMapTest {
    companion object {
        const val TOL = 1e-4
        const val N = Catalog.N_FEATURES
    }

    private class Diff(var maxAbs: Double = 0.0, var maskMismatch: Int = 0, var where: String = "")

    private fun compare(kind: String, name: String, kt: FloatArray, ktMask: BooleanArray, py: FloatArray, pyMask: BooleanArray, d: Diff) {
        assertEquals("$name: value count", py.size, kt.size)
        for (i in py.indices) {
            val e = abs(kt[i].toDouble() - py[i].toDouble())
            if (e > d.maxAbs || e.isNaN()) {
                d.maxAbs = if (e.isNaN()) Double.POSITIVE_INFINITY else e
                d.where = "$name row ${i / N} feature ${Catalog.NAMES[i % N]}: kotlin ${kt[i]} python ${py[i]}"
            }
            if (ktMask[i] != pyMask[i]) {
                if (d.maskMismatch == 0) d.where += " | first mask mismatch: row ${i / N} ${Catalog.NAMES[i % N]} kotlin ${ktMask[i]}"
                d.maskMismatch++
            }
        }
        Vectors.record("kmap max |Δ| $kind", d.maxAbs)
    }

    @Test
    fun streamingWindowsMatchPythonStreaming() {
        val failures = ArrayList<String>()
        var windows = 0
        for (case in Vectors.cases) {
            val name = case["name"] as String
            val kind = case["kind"] as String
            val w = Vectors.map(case["windows"])
            val pyEnds = Vectors.list(w["ends"]).map { (it as Number).toLong() }
            val s = StreamingKnowledgeMap(96, 16, 30.0)
            val got = Vectors.frames(case).mapNotNull { s.push(it) }
            if (got.map { it.endFrame } != pyEnds) { failures += "$name: window ends ${got.map { it.endFrame }} vs python $pyEnds"; continue }
            if (got.isEmpty()) continue
            val kt = FloatArray(got.size * 96 * N)
            val km = BooleanArray(kt.size)
            for ((k, win) in got.withIndex()) {
                System.arraycopy(win.rows, 0, kt, k * 96 * N, 96 * N)
                System.arraycopy(win.mask, 0, km, k * 96 * N, 96 * N)
            }
            val d = Diff()
            compare(kind, name, kt, km, Vectors.floats(w["kmap"]), Vectors.bools(w["mask"]), d)
            windows += got.size
            if (d.maxAbs > TOL || d.maskMismatch > 0) failures += "$name: max |Δ| ${d.maxAbs}, ${d.maskMismatch} mask mismatches (${d.where})"
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
        assertTrue("no windows compared", windows > 100)
    }

    @Test
    fun offlineMapMatchesPythonOffline() {
        val failures = ArrayList<String>()
        for (case in Vectors.cases) {
            val name = case["name"] as String
            val off = Vectors.map(case["offline"])
            val (kt, km) = knowledgeMap(Vectors.frames(case), 30.0)
            val d = Diff()
            compare(case["kind"] as String, name, kt, km, Vectors.floats(off["kmap"]), Vectors.bools(off["mask"]), d)
            if (d.maxAbs > TOL || d.maskMismatch > 0) failures += "$name: max |Δ| ${d.maxAbs}, ${d.maskMismatch} mask mismatches (${d.where})"
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
    }

    @Test
    fun valuesAreAlwaysFinite() {
        for (case in Vectors.cases) {
            val (kt, _) = knowledgeMap(Vectors.frames(case))
            assertTrue(case["name"] as String, kt.all { it.isFinite() })
        }
    }

    @Test
    fun streamingEqualsOfflineSliceForOtherWindowAndHop() {
        val case = Vectors.cases.first { it["name"] == "hostile_random_17" }
        val frames = Vectors.frames(case)
        val (off, offMask) = knowledgeMap(frames)
        for ((window, hop) in listOf(32 to 8, 1 to 1, 20 to 50, 96 to 96, 50 to 7)) {
            val s = StreamingKnowledgeMap(window, hop)
            var emitted = 0
            for ((t, f) in frames.withIndex()) {
                val w = s.push(f) ?: continue
                emitted++
                assertEquals((t + 1).toLong(), w.endFrame)
                assertTrue((t + 1 - window) % hop == 0)
                val start = (t + 1 - window) * N
                for (i in 0 until window * N) {
                    assertEquals(off[start + i], w.rows[i], 0f)
                    assertEquals(offMask[start + i], w.mask[i])
                }
            }
            assertEquals((frames.size - window) / hop + 1, emitted)
        }
    }

    @Test
    fun shorterThanWindowEmitsNothingAndResetStartsOver() {
        val frames = Vectors.frames(Vectors.cases.first { it["name"] == "synth_00" })
        val s = StreamingKnowledgeMap(96, 16)
        for (f in frames.take(95)) assertNull(s.push(f))
        assertTrue(s.push(frames[95]) != null)
        s.reset()
        val again = frames.mapNotNull { s.push(it) }
        val (off, _) = knowledgeMap(frames)
        val last = again.last()
        val start = (last.endFrame.toInt() - 96) * N
        for (i in 0 until 96 * N) assertEquals(off[start + i], last.rows[i], 0f)
    }

    @Test
    fun causalChangingTheFutureNeverChangesThePast() {
        val frames = Vectors.frames(Vectors.cases.first { it["name"] == "synth_02" }).map { it.copyOf() }
        val (a, _) = knowledgeMap(frames)
        val changed = frames.mapIndexed { t, f -> if (t >= 100) FloatArray(51) { k -> f[k] * 1.7f + 3f } else f }
        val (b, _) = knowledgeMap(changed)
        for (i in 0 until 100 * N) assertEquals(a[i], b[i], 0f)
    }

    @Test
    fun rejectsBadFramesAndFps() {
        val st = KmapState()
        try {
            st.process(FloatArray(50), FloatArray(N), BooleanArray(N)); throw AssertionError("accepted 50 values")
        } catch (e: IllegalArgumentException) { /* expected */ }
        for (fps in listOf(0.0, -1.0, Double.NaN, Double.POSITIVE_INFINITY)) {
            try { KmapState(fps); throw AssertionError("accepted fps $fps") } catch (e: IllegalArgumentException) { /* expected */ }
        }
        try { StreamingKnowledgeMap(0, 16); throw AssertionError("accepted window 0") } catch (e: IllegalArgumentException) { /* expected */ }
    }
}
