package org.scoligait.edge.core

/**
 * One person MediaPipe found in a camera frame: its 33 landmarks in pixels
 * ([Coco.landmarksToPixels]) and, if requested, its segmentation mask (`[maskHeight × maskWidth]`
 * confidences in [0, 1], row-major).
 */
class DetectedPerson(val landmarks: FloatArray, val mask: FloatArray? = null, val maskWidth: Int = 0, val maskHeight: Int = 0) {
    init {
        require(landmarks.size == 33 * 3) { "MediaPipe Pose gives 33 landmarks × (x, y, confidence)" }
        require(mask == null || mask.size >= maskWidth * maskHeight) { "mask smaller than its size" }
    }
}

/** The camera's frame rate: 1 / median interval of the last `span` frames. */
class FrameRateMeter(val span: Int = 90) {
    private val times = ArrayDeque<Double>()

    fun push(timeS: Double) {
        times.addLast(timeS)
        while (times.size > span + 1) times.removeFirst()
    }

    val fps: Double
        get() {
            if (times.size < 2) return Double.NaN
            val d = times.zipWithNext { a, b -> b - a }.filter { it > 0 }
            val m = QualityGate.median(d) ?: return Double.NaN
            return 1.0 / m
        }
}

/** What the app shows while filming. */
class LiveUpdate(
    val quality: QualityReport,
    val frames: Long,
    val windows: Int,
    val lastWindow: WindowResult?,
    val tracked: Boolean,
    val people: Int,
    val cameraFps: Double,
    val trackJumps: Int,
)

/**
 * The app's whole per-frame pipeline, device-independent: camera frame time + the people
 * MediaPipe found → person tracking → COCO-17 + silhouette → causal 30 Hz resampling →
 * [Screener] (streaming knowledge map, quality gate, prompt ids) → the bundle's model on every
 * window (through [ModelRunner]) → live quality and, at [finish], the verdict and explanation.
 */
class LiveSession(
    val threshold: Double,
    private val runner: ModelRunner?,
    val bundleName: String? = null,
    thresholds: QualityThresholds = QualityThresholds(),
    hop: Int = 16,
) {
    private val meter = FrameRateMeter()
    private val tracker = PersonTracker()
    private val resampler = Resampler()
    private val screener = Screener(threshold, Double.NaN, hop, thresholds, bundleName = bundleName)
    private var windows = 0
    private var last: WindowResult? = null

    /** Feed one camera frame (`timeS` seconds since the start, increasing). */
    fun onCameraFrame(timeS: Double, people: List<DetectedPerson>): LiveUpdate {
        meter.push(timeS)
        val k = tracker.choose(people.map { Box.ofLandmarks(it.landmarks) })
        val person = k?.let { people[it] }
        val pose = person?.let { Coco.toCoco(it.landmarks) } ?: Coco.missingFrame()
        val sil = person?.mask?.let { Silhouettes.fromMask(it, person.maskWidth, person.maskHeight) }
        screener.sourceFps = meter.fps
        for (f in resampler.push(timeS, pose, sil, people.size)) {
            val w = screener.push(f.pose, f.silhouette, f.people) ?: continue
            if (runner != null) {
                last = screener.run(runner, w)
                windows++
            }
        }
        return LiveUpdate(screener.quality, screener.frames, windows, last, person != null, people.size, meter.fps, tracker.jumps)
    }

    fun finish(): ScreeningResult {
        screener.sourceFps = meter.fps
        return screener.finish()
    }
}
