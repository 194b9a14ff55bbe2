package org.scoligait.edge.core

import kotlin.math.hypot

/** An axis-aligned box in pixels. */
data class Box(val x0: Double, val y0: Double, val x1: Double, val y1: Double) {
    val area: Double get() = maxOf(0.0, x1 - x0) * maxOf(0.0, y1 - y0)

    fun iou(b: Box): Double {
        val ix = maxOf(0.0, minOf(x1, b.x1) - maxOf(x0, b.x0))
        val iy = maxOf(0.0, minOf(y1, b.y1) - maxOf(y0, b.y0))
        val inter = ix * iy
        val union = (x1 - x0) * (y1 - y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
        return if (union > 0) inter / union else 0.0
    }

    companion object {
        const val MIN_VISIBILITY = 0.3

        /**
         * Bounding box of the visible landmarks of one person (`pose.video.pose_bbox`): the
         * landmarks with visibility ≥ 0.3, or all of them when fewer than 4 are visible.
         * `lm` is `[n × 3]` (x px, y px, visibility), row-major, for MediaPipe's 33 landmarks.
         */
        fun ofLandmarks(lm: FloatArray): Box {
            val n = lm.size / 3
            val vis = (0 until n).filter { lm[3 * it + 2] >= MIN_VISIBILITY }
            val pts = if (vis.size < 4) (0 until n).toList() else vis
            var x0 = Float.POSITIVE_INFINITY; var y0 = Float.POSITIVE_INFINITY
            var x1 = Float.NEGATIVE_INFINITY; var y1 = Float.NEGATIVE_INFINITY
            for (i in pts) {
                x0 = minOf(x0, lm[3 * i]); x1 = maxOf(x1, lm[3 * i])
                y0 = minOf(y0, lm[3 * i + 1]); y1 = maxOf(y1, lm[3 * i + 1])
            }
            return Box(x0.toDouble(), y0.toDouble(), x1.toDouble(), y1.toDouble())
        }
    }
}

/**
 * Keep one person across frames (`pose.video.PersonTracker`): the largest at first, then the
 * candidate whose box overlaps the last tracked box most (IoU ≥ `minIou`) or whose centre is
 * within `maxShift` box heights of it, preferring overlap, then closeness, then size. When no
 * candidate matches for more than `reacquireAfter` frames the largest person is taken again and
 * the switch is counted as a jump (the quality gate reports jumps).
 */
class PersonTracker(val minIou: Double = 0.1, val maxShift: Double = 0.5, val reacquireAfter: Int = 5) {
    var lastBox: Box? = null; private set
    private var missed = 0
    private var hadTrack = false
    var jumps = 0; private set

    /** Index of the tracked person among `boxes`, or null. */
    fun choose(boxes: List<Box>): Int? {
        if (boxes.isEmpty()) { missed++; return null }
        val last = lastBox ?: return take(boxes, largest(boxes))
        val lh = maxOf(1.0, last.y1 - last.y0)
        val lcx = (last.x0 + last.x1) / 2
        val lcy = (last.y0 + last.y1) / 2
        var best: Int? = null
        var bestKey: Triple<Double, Double, Double>? = null
        for ((i, b) in boxes.withIndex()) {
            val iou = last.iou(b)
            val shift = hypot((b.x0 + b.x1) / 2 - lcx, (b.y0 + b.y1) / 2 - lcy) / lh
            if (iou >= minIou || shift <= maxShift) {
                val key = Triple(iou, -shift, b.area)
                if (bestKey == null || compareKeys(key, bestKey) > 0) { best = i; bestKey = key }
            }
        }
        if (best != null) { lastBox = boxes[best]; missed = 0; return best }
        missed++
        if (missed > reacquireAfter) return take(boxes, largest(boxes))
        return null
    }

    private fun compareKeys(a: Triple<Double, Double, Double>, b: Triple<Double, Double, Double>): Int =
        compareValuesBy(a, b, { it.first }, { it.second }, { it.third })

    /** Python's `max(range(n), key=area)`: the first of the largest. */
    private fun largest(boxes: List<Box>): Int {
        var k = 0
        for (i in boxes.indices) if (boxes[i].area > boxes[k].area) k = i
        return k
    }

    private fun take(boxes: List<Box>, i: Int): Int {
        if (hadTrack) jumps++
        lastBox = boxes[i]; missed = 0; hadTrack = true
        return i
    }
}
