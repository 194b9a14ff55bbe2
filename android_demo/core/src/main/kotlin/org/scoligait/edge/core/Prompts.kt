package org.scoligait.edge.core

import kotlin.math.abs

/**
 * Prompt ids of knowledge-map windows: a port of `scoligait_edge/prompts.py`.
 *
 * Six asymmetry cues are measured on a window (means of catalog features over its rows),
 * graded against fixed thresholds (none / mild / moderate / marked); the two strongest graded
 * cues name the prompt. The model's text input on the device is the prompt id (an index into
 * the precomputed prompt-embedding table), so this must match Python exactly.
 */
object Prompts {
    val CUES: List<String> = listOf(
        "shoulder tilt", "pelvic tilt", "trunk lean", "arm-swing asymmetry", "head offset", "gait irregularity",
    )
    val SEVERITIES: List<String> = listOf("mild", "moderate", "marked")
    const val SYMMETRIC = "symmetric gait, no notable asymmetry"
    const val RATIO_FLOOR = 1e-3

    /** (mild, moderate, marked) per cue, in [CUES] order (`text.THRESHOLDS`). */
    val THRESHOLDS: Array<DoubleArray> = arrayOf(
        doubleArrayOf(4.81, 9.25, 16.1),
        doubleArrayOf(3.03, 5.91, 9.72),
        doubleArrayOf(6.74, 12.3, 19.9),
        doubleArrayOf(0.0426, 0.0722, 0.122),
        doubleArrayOf(0.0513, 0.0985, 0.183),
        doubleArrayOf(0.0345, 0.0596, 0.0959),
    )

    private val PAIRS: List<Pair<Int, Int>> = (0 until 6).flatMap { a -> (a + 1 until 6).map { b -> a to b } }

    /** Every prompt text, index = prompt id (154 of them). */
    val PROMPTS: List<String> = buildList {
        add(SYMMETRIC)
        for (cue in CUES) for (sev in SEVERITIES) add("$sev $cue, otherwise symmetric gait")
        for ((a, b) in PAIRS) for (sa in SEVERITIES) for (sb in SEVERITIES) add("$sa ${CUES[a]} and $sb ${CUES[b]}")
    }

    private val C_SHOULDER = Catalog.index("shoulder_tilt")
    private val C_PELVIC = Catalog.index("pelvic_tilt")
    private val C_LEAN = Catalog.index("trunk_lean_angle")
    private val C_WRIST_L = Catalog.index("speed_left_wrist")
    private val C_WRIST_R = Catalog.index("speed_right_wrist")
    private val C_ANKLE_L = Catalog.index("speed_left_ankle")
    private val C_ANKLE_R = Catalog.index("speed_right_ankle")
    private val C_EAR_L = Catalog.index("pos_left_ear_x")
    private val C_EAR_R = Catalog.index("pos_right_ear_x")
    private val C_SH_L = Catalog.index("pos_left_shoulder_x")
    private val C_SH_R = Catalog.index("pos_right_shoulder_x")

    /** The six cue values of one window (`rows` = `[nRows × 238]` row-major). */
    fun cueValues(rows: FloatArray, nRows: Int): DoubleArray {
        val n = Catalog.N_FEATURES
        require(nRows > 0 && rows.size >= nRows * n) { "a window needs at least one row of $n features" }
        val mean = DoubleArray(n)
        for (t in 0 until nRows) for (f in 0 until n) mean[f] += rows[t * n + f].toDouble()
        for (f in 0 until n) {
            val m = mean[f] / nRows
            mean[f] = if (m.isFinite()) m else 0.0
        }
        fun ratio(l: Int, r: Int): Double {
            val a = mean[l]
            val b = mean[r]
            return abs(a - b) / maxOf(abs(a) + abs(b), RATIO_FLOOR)
        }
        val headX = (mean[C_EAR_L] + mean[C_EAR_R]) / 2
        val shoulderX = (mean[C_SH_L] + mean[C_SH_R]) / 2
        return doubleArrayOf(
            abs(mean[C_SHOULDER]), abs(mean[C_PELVIC]), abs(mean[C_LEAN]),
            ratio(C_WRIST_L, C_WRIST_R), abs(headX - shoulderX), ratio(C_ANKLE_L, C_ANKLE_R),
        )
    }

    /** Grade 0 (none) … 3 (marked) of each cue value. */
    fun grades(values: DoubleArray): IntArray = IntArray(6) { c -> THRESHOLDS[c].count { values[c] >= it } }

    /** Prompt id of cue values (`text.prompt_ids`). */
    fun promptId(values: DoubleArray): Int {
        val g = grades(values)
        val graded = (0 until 6).filter { g[it] > 0 }
        if (graded.isEmpty()) return 0
        // stable sort by descending strength (value / mild threshold): ties keep the earlier cue
        val top = graded.sortedWith(compareBy { -values[it] / THRESHOLDS[it][0] }).take(2).sorted()
        if (top.size == 1) return 1 + top[0] * 3 + g[top[0]] - 1
        val (a, b) = top
        return 1 + CUES.size * SEVERITIES.size + PAIRS.indexOf(a to b) * 9 + (g[a] - 1) * 3 + g[b] - 1
    }

    fun promptId(window: KmapWindow): Int = promptId(cueValues(window.rows, window.window))

    fun text(id: Int): String = PROMPTS[id]
}
