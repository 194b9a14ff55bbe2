package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import kotlin.math.abs

class QualityTest {
    @Test
    fun thresholdsMatchTheDocumentedPythonReference() {
        val q = Vectors.map(Vectors.index["quality_thresholds"])
        val t = QualityThresholds()
        fun d(k: String) = (q[k] as Number).toDouble()
        assertEquals(d("min_source_fps"), t.minSourceFps, 0.0)
        assertEquals(d("min_frames"), t.minFrames.toDouble(), 0.0)
        assertEquals(d("min_tracked_fraction"), t.minTrackedFraction, 0.0)
        assertEquals(d("min_person_height_px"), t.minPersonHeightPx, 0.0)
        assertEquals(d("min_view_ratio"), t.minViewRatio, 0.0)
        assertEquals(d("min_gait_cycles"), t.minGaitCycles, 0.0)
        assertEquals(d("step_hysteresis"), t.stepHysteresis, 0.0)
        assertEquals(d("max_track_jumps"), t.maxTrackJumps.toDouble(), 0.0)
        assertEquals(d("jump_torsos"), t.jumpTorsos, 0.0)
        assertEquals(d("max_multi_person_fraction"), t.maxMultiPersonFraction, 0.0)
        assertEquals(d("min_progression"), t.minProgression, 0.0)
        assertEquals(d("progression_frames"), t.progressionFrames.toDouble(), 0.0)
    }

    @Test
    fun everyCaseGivesThePythonChecks() {
        val failures = ArrayList<String>()
        for (case in Vectors.cases) {
            val name = case["name"] as String
            val gate = QualityGate(Vectors.sourceFps(case))
            val people = Vectors.people(case)
            for ((t, f) in Vectors.frames(case).withIndex()) gate.push(f, people?.get(t))
            val got = gate.report()
            val want = Vectors.map(case["quality"])
            val wc = Vectors.list(want["checks"]).map { Vectors.map(it) }
            if (got.checks.map { it.name } != wc.map { it["name"] }) { failures += "$name: check names"; continue }
            for ((g, w) in got.checks.zip(wc)) {
                val wv = (w["value"] as? Number)?.toDouble()
                val ok = g.passed == w["passed"] && g.measured == w["measured"] &&
                    ((wv == null && g.value == null) || (wv != null && g.value != null && abs(wv - g.value!!) <= 1e-9 * maxOf(1.0, abs(wv))))
                if (!ok) failures += "$name ${g.name}: kotlin ${g.value} ${g.passed}, python $wv ${w["passed"]}"
            }
            if (got.passed != want["passed"]) failures += "$name: overall"
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
    }

    @Test
    fun failingConditionsAreCaught() {
        fun failed(name: String): Set<String> {
            val case = Vectors.cases.first { it["name"] == name }
            val gate = QualityGate(Vectors.sourceFps(case))
            val people = Vectors.people(case)
            Vectors.frames(case).forEachIndexed { t, f -> gate.push(f, people?.get(t)) }
            return gate.report().failed.map { it.name }.toSet()
        }
        assertTrue(failed("synth_side").contains("camera_view"))
        assertTrue(failed("synth_small").contains("person_size"))
        assertTrue(failed("synth_short").contains("duration"))
        assertTrue(failed("synth_two_people").contains("several_people"))
        assertTrue(failed("synth_low_fps").contains("frame_rate"))
        assertTrue(failed("hostile_constant").contains("gait_cycles"))
        assertTrue(failed("hostile_no_hips").contains("tracking"))
        assertEquals(emptySet<String>(), failed("synth_00"))
    }

    @Test
    fun liveHintNamesWhatToFixNow() {
        val case = Vectors.cases.first { it["name"] == "synth_side" }
        val gate = QualityGate(30.0)
        val frames = Vectors.frames(case)
        frames.take(20).forEach { gate.push(it) }
        assertEquals(null, gate.report().liveHint(20)) // too early to judge
        frames.drop(20).take(40).forEach { gate.push(it) }
        val hint = gate.report().liveHint(60)
        assertEquals("camera_view", hint?.name)
        assertTrue(hint!!.remedy.startsWith("turn the phone"))
        val ok = QualityGate(30.0)
        Vectors.frames(Vectors.cases.first { it["name"] == "synth_00" }).take(60).forEach { ok.push(it) }
        assertEquals(null, ok.report().liveHint(60)) // duration and gait cycles still short: not a hint
    }

    @Test
    fun liveReportAndRemedies() {
        val gate = QualityGate(30.0)
        assertFalse(gate.report().passed) // nothing yet: too short, nothing tracked
        assertTrue(gate.report().checks.first { it.name == "camera_view" }.let { !it.measured && !it.passed })
        for (c in gate.report().checks) assertTrue(c.name, c.remedy.isNotEmpty() && c.label.isNotEmpty())
        assertEquals(3.0, QualityGate.median(listOf(5.0, 1.0, 3.0))!!, 0.0)
        assertEquals(2.5, QualityGate.median(listOf(4.0, 1.0, 3.0, 2.0))!!, 0.0)
    }
}
