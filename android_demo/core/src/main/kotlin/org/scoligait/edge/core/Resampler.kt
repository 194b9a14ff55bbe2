package org.scoligait.edge.core

import kotlin.math.abs

/** One 30 Hz frame: COCO-17 pose (51 floats), the nearest source silhouette and people count. */
class ResampledFrame(val index: Long, val timeS: Double, val pose: FloatArray, val silhouette: ByteArray?, val people: Int?)

/**
 * Causal resampling of camera frames (any, even irregular, frame times) to the 30 Hz timeline the
 * knowledge map needs: a port of `scoligait_edge.pose.stream.PoseStream.__iter__` with
 * `pose.video.resample_pose` on the last two source frames. A joint is interpolated linearly
 * only where both neighbours have it (finite x, y); otherwise the 30 Hz sample is missing
 * (NaN, confidence 0) unless it coincides with a source frame that has it. Silhouettes and the
 * people count come from the nearer of the two source frames.
 */
class Resampler(val targetFps: Double = Contract.FPS) {
    private var prevTime = Double.NaN
    private var prevPose: FloatArray? = null
    private var prevSil: ByteArray? = null
    private var prevPeople: Int? = null
    private var k = 0L

    fun reset() { prevTime = Double.NaN; prevPose = null; prevSil = null; prevPeople = null; k = 0 }

    /** Add a source frame at `timeS` seconds; returns the 30 Hz frames that are now complete. */
    fun push(timeS: Double, pose: FloatArray, silhouette: ByteArray? = null, people: Int? = null): List<ResampledFrame> {
        require(pose.size == 51) { "a COCO-17 frame has 51 values" }
        val out = ArrayList<ResampledFrame>(2)
        val hasPrev = prevPose != null
        val lo = if (hasPrev) prevTime else timeS
        val a = prevPose ?: pose
        while (k / targetFps <= timeS + 1e-9) {
            val t = k / targetFps
            if (t >= lo - 1e-9) {
                val usePrev = hasPrev && abs(t - lo) <= abs(timeS - t)
                out += ResampledFrame(
                    k, t, interpolate(lo, timeS, a, pose, t),
                    if (usePrev) prevSil else silhouette, if (usePrev) prevPeople else people,
                )
            }
            k++
        }
        prevTime = timeS
        prevPose = pose.copyOf()
        prevSil = silhouette?.copyOf()
        prevPeople = people
        return out
    }

    companion object {
        private fun nanToNum(v: Float): Double = when {
            v.isNaN() -> 0.0
            v == Float.POSITIVE_INFINITY -> Float.MAX_VALUE.toDouble()
            v == Float.NEGATIVE_INFINITY -> -Float.MAX_VALUE.toDouble()
            else -> v.toDouble()
        }

        /** `resample_pose([t0, t1], [a, b], [t])[0]`. */
        fun interpolate(t0In: Double, t1In: Double, a0: FloatArray, b0: FloatArray, t: Double): FloatArray {
            // searchsorted(times, t, 'right') − 1, clipped to [0, 1]; nxt = min(idx + 1, 1)
            val times = doubleArrayOf(t0In, t1In)
            var idx = times.count { it <= t } - 1
            idx = idx.coerceIn(0, 1)
            val nxt = minOf(idx + 1, 1)
            val t0 = times[idx]
            val t1 = times[nxt]
            val span = if (t1 > t0) t1 - t0 else 1.0
            var w = ((t - t0) / span).coerceIn(0.0, 1.0)
            if (nxt == idx) w = 0.0
            val a = if (idx == 0) a0 else b0
            val b = if (nxt == 0) a0 else b0
            val out = FloatArray(51)
            for (j in 0 until 17) {
                val pa = a[3 * j].isFinite() && a[3 * j + 1].isFinite()
                val pb = b[3 * j].isFinite() && b[3 * j + 1].isFinite()
                val exactA = w <= 1e-9 && pa
                val exactB = w >= 1 - 1e-9 && pb
                for (c in 0 until 3) {
                    out[3 * j + c] = when {
                        pa && pb -> ((1 - w) * nanToNum(a[3 * j + c]) + w * nanToNum(b[3 * j + c])).toFloat()
                        exactA -> a[3 * j + c]
                        exactB -> b[3 * j + c]
                        c == 2 -> 0f
                        else -> Float.NaN
                    }
                }
            }
            return out
        }
    }
}
