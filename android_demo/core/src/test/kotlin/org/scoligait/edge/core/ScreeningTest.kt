package org.scoligait.edge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import kotlin.math.abs

/**
 * The whole on-device pipeline (Screener: streaming map + quality gate + prompt ids + silhouette
 * windows → verdict + explanation), fed the Python model outputs of each window, against the
 * verdicts and explanations Python derives from the same outputs.
 */
class ScreeningTest {
    private fun modelOf(case: Map<String, Any?>): Map<String, Any?>? = case["model"]?.let { Vectors.map(it) }

    private fun screen(case: Map<String, Any?>, threshold: Double, check: (Int, WindowInput) -> Unit = { _, _ -> }): ScreeningResult {
        val model = modelOf(case)
        val probs = model?.let { Vectors.list(it["referral_prob"]).map { v -> (v as Number).toFloat() } }
        val logits = model?.let { Vectors.list(it["referral_logit"]).map { v -> (v as Number).toFloat() } }
        val cobb = model?.let { Vectors.list(it["cobb_angle"]).map { v -> (v as Number).toFloat() } }
        val sal = model?.let { Vectors.floats(it["saliency"]) }
        val per = 96 * Catalog.N_FEATURES
        val s = Screener(threshold, Vectors.sourceFps(case))
        val sils = Vectors.silhouettes(case)
        val people = Vectors.people(case)
        var k = 0
        for ((t, f) in Vectors.frames(case).withIndex()) {
            val w = s.push(f, sils?.get(t), people?.get(t)) ?: continue
            check(k, w)
            if (probs != null) {
                val out = ModelOutputs(
                    floatArrayOf(logits!![k]), floatArrayOf(probs[k]), floatArrayOf(cobb!![k]),
                    sal!!.copyOfRange(k * per, (k + 1) * per),
                )
                s.addResult(w.endFrame, out)
            }
            k++
        }
        return s.finish()
    }

    @Test
    fun verdictsEqualPython() {
        val thr = Vectors.threshold
        assumeTrue("the vectors were made without a model (--no-model)", thr != null)
        val failures = ArrayList<String>()
        val seen = HashSet<Verdict>()
        for (case in Vectors.cases) {
            val name = case["name"] as String
            val want = Vectors.map(case["expected_verdict"])
            val r = screen(case, thr!!)
            seen += r.verdict
            if (r.verdict.wire != want["verdict"]) failures += "$name: kotlin ${r.verdict.wire}, python ${want["verdict"]}"
            if (r.decision.reasons != Vectors.list(want["reasons"])) failures += "$name: reasons ${r.decision.reasons} vs ${want["reasons"]}"
            val wp = (want["referral_prob"] as? Number)?.toDouble()
            val gp = r.decision.referralProb
            if ((wp == null) != (gp == null) || (wp != null && abs(wp - gp!!) > 1e-9)) failures += "$name: prob $gp vs $wp"
            if (wp != null) Vectors.record("clip referral prob |Δ| (same window outputs)", abs(wp - gp!!))
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
        assertEquals("all three verdicts occur", setOf(Verdict.REFER, Verdict.NO_REFERRAL, Verdict.RETAKE), seen)
    }

    @Test
    fun explanationsEqualPython() {
        val thr = Vectors.threshold
        assumeTrue("the vectors were made without a model", thr != null)
        val failures = ArrayList<String>()
        var compared = 0
        for (case in Vectors.cases) {
            val want = case["expected_explanation"]?.let { Vectors.map(it) } ?: continue
            val r = screen(case, thr!!)
            val got = r.explanation!!
            for ((domain, rows) in want) {
                val wr = Vectors.list(rows).map { Vectors.map(it) }
                val gr = got.getValue(domain)
                if (wr.map { it["name"] } != gr.map { it.name }) { failures += "${case["name"]} $domain: ${gr.map { it.name }} vs ${wr.map { it["name"] }}"; continue }
                for ((w, g) in wr.zip(gr)) {
                    val frames = Vectors.list(w["frames"]).map { (it as Number).toInt() }
                    val secs = Vectors.list(w["seconds"]).map { (it as Number).toDouble() }
                    if (frames != listOf(g.startFrame, g.endFrame)) failures += "${case["name"]} ${g.name}: frames"
                    if (secs != listOf(g.startSeconds, g.endSeconds)) failures += "${case["name"]} ${g.name}: seconds $secs vs ${g.startSeconds},${g.endSeconds}"
                    if (w["label"] != g.label || (w["index"] as Number).toInt() != g.index) failures += "${case["name"]} ${g.name}: label/index"
                    val ws = (w["score"] as Number).toDouble()
                    Vectors.record("explanation score |Δ|", abs(ws - g.score))
                    if (abs(ws - g.score) > 1e-9) failures += "${case["name"]} ${g.name}: score ${g.score} vs $ws"
                    compared++
                }
            }
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
        assertTrue(compared > 50)
    }

    @Test
    fun modelInputsMatchWhatPythonFedTheModel() {
        for (case in Vectors.cases) {
            val w = Vectors.map(case["windows"])
            val ids = (w["prompt_ids"] as? List<*>)?.map { (it as Number).toInt() } ?: continue
            val sils = Vectors.silhouettes(case)
            val ends = Vectors.list(w["ends"]).map { (it as Number).toInt() }
            screen(case, 0.5) { k, input ->
                assertEquals(ids[k], input.promptId)
                assertEquals(ends[k].toLong(), input.endFrame)
                val px = 64 * 44
                assertEquals(96 * px, input.silhouette.size)
                for (t in 0 until 96) {
                    val src = sils?.get(ends[k] - 96 + t)
                    for (i in 0 until px) {
                        val want = if (src == null) 0f else (src[i].toInt() and 0xff).toFloat() / 255f
                        if (input.silhouette[t * px + i] != want) throw AssertionError("${case["name"]} window $k frame $t pixel $i")
                    }
                }
            }
        }
    }

    @Test
    fun verdictRule() {
        val pass = QualityReport(listOf(QualityCheck("duration", 200.0, 96.0, true)))
        assertEquals(Verdict.REFER, Verdicts.decide(pass, listOf(0.5f, 0.3f), 0.4).verdict) // mean 0.4 ≥ 0.4
        assertEquals(Verdict.NO_REFERRAL, Verdicts.decide(pass, listOf(0.2f, 0.3f), 0.4).verdict)
        val none = Verdicts.decide(pass, emptyList(), 0.4)
        assertEquals(Verdict.RETAKE, none.verdict)
        assertEquals(listOf("duration"), none.reasons)
        assertNull(none.referralProb)
        val side = QualityReport(listOf(QualityCheck("camera_view", 0.2, 0.45, false), QualityCheck("duration", 200.0, 96.0, true)))
        val d = Verdicts.decide(side, listOf(0.99f), 0.4)
        assertEquals(Verdict.RETAKE, d.verdict) // never a referral decision on bad footage
        assertEquals(listOf("camera_view"), d.reasons)
        assertEquals(Verdict.NO_REFERRAL, Verdict.parse("no-referral"))
    }

    @Test
    fun resultJsonIsVersionedAndParses() {
        val thr = Vectors.threshold ?: 0.5
        val r = screen(Vectors.cases.first { it["name"] == "synth_02" }, thr)
        val j = Vectors.map(Json.parse(Json.write(r.toJson(), indent = 1)))
        assertEquals("scoligait-screening-result", j["format"])
        assertEquals(1L, j["version"])
        assertEquals(r.verdict.wire, j["verdict"])
        assertEquals(Catalog.HASH, j["catalog_hash"])
        val side = screen(Vectors.cases.first { it["name"] == "synth_side" }, thr)
        val sj = Vectors.map(Json.parse(Json.write(side.toJson())))
        assertEquals("retake", sj["verdict"])
        val reason = Vectors.map(Vectors.list(sj["reasons"]).first())
        assertEquals("camera_view", reason["check"])
        assertTrue((reason["remedy"] as String).contains("front or back"))
        assertNull(sj["cobb_angle_estimate"])
    }
}
