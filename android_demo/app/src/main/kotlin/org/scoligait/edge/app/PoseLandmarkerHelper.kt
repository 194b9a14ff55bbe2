package org.scoligait.edge.app

import android.content.Context
import android.graphics.Bitmap
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.framework.image.ByteBufferExtractor
import com.google.mediapipe.framework.image.MPImage
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.core.Delegate
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.poselandmarker.PoseLandmarker
import com.google.mediapipe.tasks.vision.poselandmarker.PoseLandmarkerResult
import org.scoligait.edge.core.Coco
import org.scoligait.edge.core.DetectedPerson
import java.nio.ByteOrder

/**
 * MediaPipe Tasks PoseLandmarker in LIVE_STREAM mode with the same `pose_landmarker_full.task`
 * the Python side assembles (scoligait_edge/pose/assets.py) and the same thresholds as
 * `scoligait-edge pose` (0.5), up to `numPoses` people (the quality gate counts them), with
 * segmentation masks for the silhouette stream. Results arrive on MediaPipe's thread as
 * [DetectedPerson]s in image pixels (core conversion, as `pose.video.landmarks_to_array`).
 */
class PoseLandmarkerHelper(
    context: Context,
    numPoses: Int = 2,
    minConfidence: Float = 0.5f,
    private val onPeople: (timestampMs: Long, people: List<DetectedPerson>) -> Unit,
    private val onError: (RuntimeException) -> Unit,
) : AutoCloseable {
    private val landmarker: PoseLandmarker

    init {
        val base = BaseOptions.builder().setModelAssetPath(TASK).setDelegate(Delegate.CPU).build()
        val options = PoseLandmarker.PoseLandmarkerOptions.builder()
            .setBaseOptions(base)
            .setRunningMode(RunningMode.LIVE_STREAM)
            .setNumPoses(numPoses)
            .setMinPoseDetectionConfidence(minConfidence)
            .setMinPosePresenceConfidence(minConfidence)
            .setMinTrackingConfidence(minConfidence)
            .setOutputSegmentationMasks(true)
            .setResultListener(this::onResult)
            .setErrorListener { e -> onError(e) }
            .build()
        landmarker = PoseLandmarker.createFromOptions(context, options)
    }

    /** Send one upright RGB frame; `timestampMs` must increase. */
    fun detect(bitmap: Bitmap, timestampMs: Long) {
        landmarker.detectAsync(BitmapImageBuilder(bitmap).build(), timestampMs)
    }

    private fun onResult(result: PoseLandmarkerResult, input: MPImage) {
        val w = input.width
        val h = input.height
        val masks = result.segmentationMasks().orElse(emptyList())
        val people = result.landmarks().mapIndexed { i, lms ->
            val x = FloatArray(lms.size) { lms[it].x() }
            val y = FloatArray(lms.size) { lms[it].y() }
            val vis = FloatArray(lms.size) { lms[it].visibility().orElse(Float.NaN) }
            val pres = FloatArray(lms.size) { lms[it].presence().orElse(Float.NaN) }
            val px = Coco.landmarksToPixels(x, y, vis, pres, w, h)
            val m = masks.getOrNull(i)
            if (m == null) DetectedPerson(px) else {
                val buf = ByteBufferExtractor.extract(m).order(ByteOrder.nativeOrder()).asFloatBuffer()
                val mask = FloatArray(m.width * m.height).also { buf.get(it) }
                DetectedPerson(px, mask, m.width, m.height)
            }
        }
        onPeople(result.timestampMs(), people)
    }

    override fun close() = landmarker.close()

    companion object {
        const val TASK = "pose_landmarker_full.task"
    }
}
