package org.scoligait.edge.core

import kotlin.math.abs
import kotlin.math.ln
import kotlin.math.sqrt

/**
 * Thresholds of the pose-only input-quality gate (README "Quality gate"). A clip that fails any
 * check gets the verdict `retake` with the failing checks and their remedies, never a decision.
 */
data class QualityThresholds(
    /** Source (camera / video) frame rate before resampling to 30 Hz. */
    val minSourceFps: Double = 24.0,
    /** 30 Hz frames: at least one full knowledge-map window. */
    val minFrames: Int = 96,
    /** Fraction of frames with both shoulders and both hips observed. */
    val minTrackedFraction: Double = 0.80,
    /** Median height (px) of the observed joints' bounding box. */
    val minPersonHeightPx: Double = 80.0,
    /** Median (|Δx shoulders| + |Δx hips|) / (2 · torso length): front/back ≈ 0.6, side ≈ 0.2. */
    val minViewRatio: Double = 0.45,
    /** Full gait cycles (two steps each) counted from the alternation of the ankle heights. */
    val minGaitCycles: Double = 2.0,
    /** |y_right_ankle − y_left_ankle| / torso that makes the other foot the leading one. */
    val stepHysteresis: Double = 0.10,
    /** Allowed jumps of the mid-hip by more than [jumpTorsos] torso lengths between tracked frames. */
    val maxTrackJumps: Int = 1,
    val jumpTorsos: Double = 1.0,
    /** Largest fraction of frames where the pose source saw two or more people. */
    val maxMultiPersonFraction: Double = 0.25,
    /**
     * Walking toward / away changes the child's apparent size: |ln(median torso of the last
     * [progressionFrames] tracked frames / of the first)| must reach this (standing stays ≤ 0.05).
     */
    val minProgression: Double = 0.15,
    val progressionFrames: Int = 24,
    /** A joint counts as observed at this confidence (the knowledge map's threshold). */
    val minConfidence: Double = KmapConstants.MIN_CONFIDENCE,
)

/** One check: its measured value (null: could not be measured), threshold, pass/fail, remedy. */
data class QualityCheck(
    val name: String,
    val value: Double?,
    val threshold: Double,
    val passed: Boolean,
    val measured: Boolean = true,
) {
    /** What to tell the person filming when this check fails. */
    val remedy: String get() = REMEDIES[name] ?: ""

    val label: String get() = LABELS[name] ?: name

    fun toJson(): Map<String, Any?> = linkedMapOf(
        "name" to name, "value" to value, "threshold" to threshold, "passed" to passed, "measured" to measured,
    )

    companion object {
        val LABELS = mapOf(
            "frame_rate" to "camera frame rate",
            "duration" to "walking time",
            "tracking" to "child tracked",
            "person_size" to "child size in the picture",
            "camera_view" to "camera view (front / back)",
            "gait_cycles" to "gait cycles",
            "walking" to "walking toward / away",
            "track_jumps" to "one child, steady track",
            "several_people" to "one person in view",
        )
        val REMEDIES = mapOf(
            "frame_rate" to "use a camera mode of at least 24 frames per second",
            "duration" to "keep filming until the child has walked for at least 3.2 s (one 96-frame window)",
            "tracking" to "keep the whole child, shoulders and hips included, in the picture the whole time",
            "person_size" to "move closer or zoom in: the child should fill a good part of the picture height",
            "camera_view" to "turn the phone: film from the front or back, the child walking toward or away from the camera",
            "gait_cycles" to "let the child walk several steps at a normal pace (not standing still)",
            "walking" to "let the child walk 5 m or more straight toward or away from the camera",
            "track_jumps" to "film one child at a time; keep other people out of the picture",
            "several_people" to "film one child at a time; keep other people out of the picture",
        )
    }
}

class QualityReport(val checks: List<QualityCheck>) {
    val passed: Boolean get() = checks.all { it.passed }
    val failed: List<QualityCheck> get() = checks.filter { !it.passed }

    /**
     * What to tell the person filming right now: the first failing check they can fix by moving
     * the phone (view, size, tracking, other people, frame rate), measured on at least
     * `minFrames` frames; checks that only need more walking (duration, gait cycles) are not
     * hints until the clip ends. Null when nothing needs fixing.
     */
    fun liveHint(frames: Long, minFrames: Int = 30): QualityCheck? {
        if (frames < minFrames) return null
        return LIVE_ORDER.firstNotNullOfOrNull { n -> checks.firstOrNull { it.name == n && !it.passed && it.measured } }
    }

    companion object {
        val LIVE_ORDER = listOf("frame_rate", "tracking", "several_people", "camera_view", "person_size", "track_jumps")
    }

    fun toJson(): Map<String, Any?> = linkedMapOf("passed" to passed, "checks" to checks.map { it.toJson() })
}

/**
 * The pose-only quality gate, fed frame by frame with the same 30 Hz COCO-17 frames as the
 * knowledge map. [report] can be called at any time (the app shows it live); the final report
 * decides whether a clip may get a referral decision.
 */
class QualityGate(
    /** Source frame rate (settable: a live camera's rate is measured as frames arrive). */
    var sourceFps: Double,
    val thresholds: QualityThresholds = QualityThresholds(),
) {
    private var frames = 0
    private var tracked = 0
    private val heights = ArrayList<Double>()
    private val ratios = ArrayList<Double>()
    private var steps = 0
    private var footState = 0
    private val firstTorsos = ArrayList<Double>()
    private val lastTorsos = ArrayDeque<Double>()
    private var nTorsos = 0
    private var jumps = 0
    private var prevHipX = Double.NaN
    private var prevHipY = Double.NaN
    private var peopleFrames = 0
    private var multiPeople = 0
    private val ok = BooleanArray(17)

    val framesSeen: Int get() = frames

    /** Add one 30 Hz frame (51 floats); `people` = persons the pose source saw (null if unknown). */
    fun push(frame: FloatArray, people: Int? = null) {
        require(frame.size == 51) { "a COCO-17 frame has 51 values" }
        frames++
        if (people != null) {
            peopleFrames++
            if (people >= 2) multiPeople++
        }
        for (j in 0 until 17) {
            val x = frame[3 * j].toDouble()
            val y = frame[3 * j + 1].toDouble()
            val c = frame[3 * j + 2].toDouble()
            ok[j] = x.isFinite() && y.isFinite() && c.isFinite() && c >= thresholds.minConfidence
        }
        if (!(ok[5] && ok[6] && ok[11] && ok[12])) {
            prevHipX = Double.NaN
            return
        }
        tracked++
        var lo = Double.POSITIVE_INFINITY
        var hi = Double.NEGATIVE_INFINITY
        for (j in 0 until 17) if (ok[j]) {
            val y = frame[3 * j + 1].toDouble()
            lo = minOf(lo, y); hi = maxOf(hi, y)
        }
        heights += hi - lo
        fun x(j: Int) = frame[3 * j].toDouble()
        fun y(j: Int) = frame[3 * j + 1].toDouble()
        val msx = (x(5) + x(6)) * 0.5
        val msy = (y(5) + y(6)) * 0.5
        val mhx = (x(11) + x(12)) * 0.5
        val mhy = (y(11) + y(12)) * 0.5
        val dx = msx - mhx
        val dy = msy - mhy
        val torso = sqrt(dx * dx + dy * dy)
        if (torso > 0) {
            nTorsos++
            if (firstTorsos.size < thresholds.progressionFrames) firstTorsos += torso
            lastTorsos.addLast(torso)
            if (lastTorsos.size > thresholds.progressionFrames) lastTorsos.removeFirst()
            ratios += (abs(x(5) - x(6)) + abs(x(11) - x(12))) / (2.0 * torso)
            if (ok[15] && ok[16]) {
                val a = (y(16) - y(15)) / torso
                if (a > thresholds.stepHysteresis && footState != 1) {
                    if (footState != 0) steps++
                    footState = 1
                } else if (a < -thresholds.stepHysteresis && footState != -1) {
                    if (footState != 0) steps++
                    footState = -1
                }
            }
            if (!prevHipX.isNaN()) {
                val hx = mhx - prevHipX
                val hy = mhy - prevHipY
                if (sqrt(hx * hx + hy * hy) > thresholds.jumpTorsos * torso) jumps++
            }
        }
        prevHipX = mhx
        prevHipY = mhy
    }

    /** The checks as of now (all frames pushed so far). */
    fun report(): QualityReport {
        val t = thresholds
        val out = ArrayList<QualityCheck>(8)
        val fpsOk = sourceFps.isFinite() && sourceFps >= t.minSourceFps
        out += QualityCheck("frame_rate", sourceFps, t.minSourceFps, fpsOk)
        out += QualityCheck("duration", frames.toDouble(), t.minFrames.toDouble(), frames >= t.minFrames)
        val frac = if (frames > 0) tracked.toDouble() / frames else 0.0
        out += QualityCheck("tracking", frac, t.minTrackedFraction, frac >= t.minTrackedFraction)
        val h = median(heights)
        out += QualityCheck("person_size", h, t.minPersonHeightPx, h != null && h >= t.minPersonHeightPx, h != null)
        val r = median(ratios)
        out += QualityCheck("camera_view", r, t.minViewRatio, r != null && r >= t.minViewRatio, r != null)
        val cycles = steps / 2.0
        out += QualityCheck("gait_cycles", cycles, t.minGaitCycles, cycles >= t.minGaitCycles)
        if (nTorsos >= 2 * t.progressionFrames) {
            val prog = abs(ln(median(lastTorsos.toList())!! / median(firstTorsos)!!))
            out += QualityCheck("walking", prog, t.minProgression, prog >= t.minProgression)
        } else {
            out += QualityCheck("walking", null, t.minProgression, false, measured = false)
        }
        out += QualityCheck("track_jumps", jumps.toDouble(), t.maxTrackJumps.toDouble(), jumps <= t.maxTrackJumps)
        if (peopleFrames == 0) {
            out += QualityCheck("several_people", null, t.maxMultiPersonFraction, true, measured = false)
        } else {
            val m = multiPeople.toDouble() / peopleFrames
            out += QualityCheck("several_people", m, t.maxMultiPersonFraction, m <= t.maxMultiPersonFraction)
        }
        return QualityReport(out)
    }

    companion object {
        /** numpy's median: the middle value, or the mean of the two middle values. */
        fun median(values: List<Double>): Double? {
            if (values.isEmpty()) return null
            val s = values.sorted()
            val n = s.size
            return if (n % 2 == 1) s[n / 2] else (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    }
}
