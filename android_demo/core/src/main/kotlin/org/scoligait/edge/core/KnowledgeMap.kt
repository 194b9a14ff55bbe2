package org.scoligait.edge.core

import kotlin.math.abs
import kotlin.math.sqrt

/**
 * Constants of the knowledge map (`scoligait_edge/kmap/signals.py`, docs/kmap_catalog.md).
 */
object KmapConstants {
    const val MIN_CONFIDENCE = 0.3
    const val MIN_TORSO_FRACTION = 1e-3
    const val MAX_COORD = 50.0
    const val SCALE_MIN_ALPHA = 1.0 / 8.0
    const val SCALE_WARMUP = 4
    const val SCALE_CLIP = 0.2
    const val MIN_SEGMENT = 1e-3
    const val MIN_HIP_WIDTH = 0.1
    const val MIN_SPEED_JOINTS = 6
    const val CORR_WINDOW = 32
    const val CORR_MIN_FRAMES = 8
    const val CORR_VAR_EPS = 1e-8
}

/**
 * The causal knowledge-map state machine: a port of `scoligait_edge.kmap.state.KmapState` +
 * `signals.geometry` / `signals.instant_features`, advanced one frame at a time.
 *
 * The Python code is vectorised over a chunk of frames, but every recurrence in it is
 * sequential (body scale, forward fill, previous-frame state, `cumsum` of correlation deltas),
 * so feeding frames one by one performs the same float64 operations in the same order.
 * All arithmetic is float64; each output row is rounded to float32 at the end, as in Python.
 * Transcendentals (log, exp, atan2, sqrt) use `StrictMath` (fdlibm), which may differ from
 * numpy's libm in the last bit: the tests measure the difference (well below 1e-4).
 */
class KmapState(val fps: Double = 30.0) {
    init {
        require(fps.isFinite() && fps > 0) { "fps must be a positive number, got $fps" }
    }

    var frames = 0L; private set
    private var logScale = 0.0
    private var scaleCount = 0
    private var scale = 0.0
    private val prevPos = DoubleArray(34)
    private val prevPosOk = BooleanArray(34)
    private val prevVel = DoubleArray(34)
    private val prevVelOk = BooleanArray(34)
    private val prevOrigin = DoubleArray(2)
    private var prevOriginOk = false
    private val held = DoubleArray(N_STATIC)
    private val ref = DoubleArray(12)
    private val hasRef = BooleanArray(12)
    private val corrRing = Array(KmapConstants.CORR_WINDOW) { DoubleArray(6 * N_PAIRS) }
    private var ringHead = 0 // index of the oldest contribution
    private val corrSums = DoubleArray(6 * N_PAIRS)

    // scratch
    private val obs = BooleanArray(17)
    private val xy = DoubleArray(34)
    private val rel = DoubleArray(34)
    private val visible = BooleanArray(17)
    private val p = DoubleArray(34)
    private val pv = BooleanArray(17)
    private val vx = DoubleArray(36)
    private val vy = DoubleArray(36)
    private val vOk = BooleanArray(36)
    private val norm = DoubleArray(36)
    private val deg = DoubleArray(14)
    private val rotOk = BooleanArray(14)
    private val static = DoubleArray(N_STATIC)
    private val staticOk = BooleanArray(N_STATIC)
    private val sig = DoubleArray(12)
    private val sigOk = BooleanArray(12)
    private val src = DoubleArray(33)
    private val srcOk = BooleanArray(33)
    private val vel = DoubleArray(34)
    private val velOk = BooleanArray(34)
    private val acc = DoubleArray(34)
    private val accOk = BooleanArray(34)
    private val speed = DoubleArray(17)
    private val contrib = DoubleArray(6 * N_PAIRS)
    private val centred = DoubleArray(12)
    private val mPair = BooleanArray(N_PAIRS)

    fun reset() {
        frames = 0; logScale = 0.0; scaleCount = 0; scale = 0.0
        prevPos.fill(0.0); prevPosOk.fill(false); prevVel.fill(0.0); prevVelOk.fill(false)
        prevOrigin.fill(0.0); prevOriginOk = false; held.fill(0.0); ref.fill(0.0); hasRef.fill(false)
        for (r in corrRing) r.fill(0.0)
        ringHead = 0
        corrSums.fill(0.0)
    }

    private fun scaleStep(torso: Double): Double {
        val x = StrictMath.log(torso)
        if (scaleCount == 0) return x
        var innov = x - logScale
        if (scaleCount >= KmapConstants.SCALE_WARMUP) {
            innov = minOf(maxOf(innov, -KmapConstants.SCALE_CLIP), KmapConstants.SCALE_CLIP)
        }
        return logScale + maxOf(1.0 / (scaleCount + 1), KmapConstants.SCALE_MIN_ALPHA) * innov
    }

    /**
     * Advance over one COCO-17 frame (51 floats: x, y, confidence per joint) and write its
     * 238 values (float32) into `out[outOffset…]` and validity into `mask[outOffset…]`.
     */
    fun process(frame: FloatArray, out: FloatArray, mask: BooleanArray, outOffset: Int = 0) {
        require(frame.size == 51) { "a COCO-17 frame has 17 × 3 = 51 values, got ${frame.size}" }
        // ---------------------------------------------------------------- geometry
        for (j in 0 until 17) {
            val x = frame[3 * j].toDouble()
            val y = frame[3 * j + 1].toDouble()
            val c = frame[3 * j + 2].toDouble()
            val o = x.isFinite() && y.isFinite() && c.isFinite() && c >= KmapConstants.MIN_CONFIDENCE
            obs[j] = o
            xy[2 * j] = if (o) x else 0.0
            xy[2 * j + 1] = if (o) y else 0.0
        }
        val ox = (xy[22] + xy[24]) * 0.5
        val oy = (xy[23] + xy[25]) * 0.5
        val originOk = obs[11] && obs[12]
        var reach = 0.0
        for (j in 0 until 17) {
            visible[j] = obs[j] && originOk
            val f = if (visible[j]) 1.0 else 0.0
            rel[2 * j] = (xy[2 * j] - ox) * f
            rel[2 * j + 1] = (xy[2 * j + 1] - oy) * f
            reach = maxOf(reach, abs(rel[2 * j]), abs(rel[2 * j + 1]))
        }
        val tx = rel[10] + rel[12]
        val ty = rel[11] + rel[13]
        val torso = sqrt(tx * tx + ty * ty) * 0.5
        val torsoOk = visible[5] && visible[6] && torso > KmapConstants.MIN_TORSO_FRACTION * reach

        // ---------------------------------------------------------------- body scale
        if (torsoOk) {
            logScale = scaleStep(torso)
            scaleCount++
            scale = StrictMath.exp(logScale)
        }
        val scaleOk = scale > 0
        val inv = 1.0 / (if (scaleOk) scale else 1.0)

        // ---------------------------------------------------------------- instant features
        val invY = inv * -1.0
        for (j in 0 until 17) {
            val px = rel[2 * j] * inv
            val py = rel[2 * j + 1] * invY
            val ok = visible[j] && scaleOk && abs(px) <= KmapConstants.MAX_COORD && abs(py) <= KmapConstants.MAX_COORD
            pv[j] = ok
            val f = if (ok) 1.0 else 0.0
            p[2 * j] = px * f
            p[2 * j + 1] = py * f
        }
        for (k in 0 until 36) {
            val a = V1[k]
            val b = V2[k]
            vx[k] = p[2 * a] - p[2 * b]
            vy[k] = p[2 * a + 1] - p[2 * b + 1]
            vOk[k] = pv[a] && pv[b]
            norm[k] = sqrt(vx[k] * vx[k] + vy[k] * vy[k])
        }
        for (i in 0 until 8) { // angles
            val a = 12 + i
            val c = 20 + i
            val cross = vx[a] * vy[c] - vy[a] * vx[c]
            val dot = vx[a] * vx[c] + vy[a] * vy[c]
            rotOk[i] = vOk[a] && vOk[c] && norm[a] > KmapConstants.MIN_SEGMENT && norm[c] > KmapConstants.MIN_SEGMENT
            deg[i] = StrictMath.atan2(abs(cross), dot) * RAD2DEG
        }
        for (i in 0 until 5) { // tilts
            val k = TILT_V[i]
            rotOk[8 + i] = vOk[k] && norm[k] > KmapConstants.MIN_SEGMENT
            deg[8 + i] = StrictMath.atan2(vy[k], abs(vx[k])) * RAD2DEG
        }
        val msx = (p[10] + p[12]) * 0.5
        val msy = (p[11] + p[13]) * 0.5
        val shOk = vOk[SHOULDER_V]
        rotOk[13] = shOk && (msx * msx + msy * msy) > MIN_SEGMENT_SQ
        deg[13] = StrictMath.atan2(msx, msy) * RAD2DEG

        // static: positions 34 | pairs 16 | segments 12 | angles 8 | symmetry 4 | tilts+lean 6 | wr | tr
        for (k in 0 until 34) { static[k] = p[k]; staticOk[k] = pv[k / 2] }
        for (i in 0 until 8) {
            val k = PAIR0 + i
            static[34 + 2 * i] = abs(vx[k]); static[35 + 2 * i] = vy[k]
            staticOk[34 + 2 * i] = vOk[k]; staticOk[35 + 2 * i] = vOk[k]
        }
        for (i in 0 until 12) { static[50 + i] = norm[i]; staticOk[50 + i] = vOk[i] }
        for (i in 0 until 8) { static[62 + i] = deg[i]; staticOk[62 + i] = rotOk[i] }
        for (i in 0 until 4) {
            val l = norm[2 * i]
            val r = norm[2 * i + 1]
            val total = l + r
            val ok = vOk[2 * i] && vOk[2 * i + 1] && total > KmapConstants.MIN_SEGMENT
            static[70 + i] = (l - r) / (if (ok) total else 1.0)
            staticOk[70 + i] = ok
        }
        for (i in 0 until 6) { static[74 + i] = deg[8 + i]; staticOk[74 + i] = rotOk[8 + i] }
        val wrOk = vOk[8] && vOk[9] && norm[9] > KmapConstants.MIN_HIP_WIDTH
        static[80] = norm[8] / (if (wrOk) norm[9] else 1.0)
        staticOk[80] = wrOk
        static[81] = torso * inv
        staticOk[81] = torsoOk && scaleOk

        // signals
        val ears = pv[3] && pv[4]
        val headX = if (ears) (p[6] + p[8]) * 0.5 else p[0]
        val headOk = (ears || pv[0]) && shOk
        for (j in 0 until 17) { src[j] = p[2 * j + 1]; srcOk[j] = pv[j] }
        for (i in 0 until 14) { src[17 + i] = deg[i]; srcOk[17 + i] = rotOk[i] }
        src[31] = msx; srcOk[31] = shOk
        src[32] = headX; srcOk[32] = headOk
        for (k in 0 until 12) { sig[k] = src[SIG_SRC[k]]; sigOk[k] = srcOk[SIG_SRC[k]] }
        for (q in 0 until 3) {
            val k = SIG_SUB[q]
            sig[k] -= src[SIG_SUB_SRC[q]]
            sigOk[k] = sigOk[k] && srcOk[SIG_SUB_SRC[q]]
        }

        // ---------------------------------------------------------------- held values
        for (k in 0 until N_STATIC) if (staticOk[k]) held[k] = static[k]

        // ---------------------------------------------------------------- derivatives
        for (k in 0 until 34) {
            val ok = staticOk[k] && prevPosOk[k]
            velOk[k] = ok
            vel[k] = (p[k] - prevPos[k]) * fps * (if (ok) 1.0 else 0.0)
            val aok = ok && prevVelOk[k]
            accOk[k] = aok
            acc[k] = (vel[k] - prevVel[k]) * fps * (if (aok) 1.0 else 0.0)
        }
        var count = 0
        var speedSum = 0.0
        for (j in 0 until 17) {
            val a = vel[2 * j] * vel[2 * j]
            val b = vel[2 * j + 1] * vel[2 * j + 1]
            speed[j] = sqrt(a + b)
            if (velOk[2 * j]) count++
            speedSum += speed[j]
        }
        val rootOk = originOk && prevOriginOk && scaleOk
        val rootX: Double
        val rootY: Double
        if (rootOk) {
            val k = inv * fps
            rootX = (ox - prevOrigin[0]) * k * 1.0
            rootY = (oy - prevOrigin[1]) * k * -1.0
        } else {
            rootX = 0.0; rootY = 0.0
        }
        val meanOk = count >= KmapConstants.MIN_SPEED_JOINTS
        val meanSpeed = speedSum / maxOf(count, 1) * (if (meanOk) 1.0 else 0.0)
        val asymWOk = velOk[18] && velOk[20]
        val asymAOk = velOk[30] && velOk[32]
        val asymW = (speed[9] - speed[10]) * (if (asymWOk) 1.0 else 0.0)
        val asymA = (speed[15] - speed[16]) * (if (asymAOk) 1.0 else 0.0)
        for (k in 0 until 34) { prevPos[k] = p[k]; prevPosOk[k] = staticOk[k]; prevVel[k] = vel[k]; prevVelOk[k] = velOk[k] }
        prevOrigin[0] = ox; prevOrigin[1] = oy; prevOriginOk = originOk

        // ---------------------------------------------------------------- correlations
        for (k in 0 until 12) {
            if (!hasRef[k] && sigOk[k]) { ref[k] = sig[k]; hasRef[k] = true }
            centred[k] = if (sigOk[k]) sig[k] - ref[k] else 0.0
        }
        for (q in 0 until N_PAIRS) {
            val i = PI[q]
            val j = PJ[q]
            val m = sigOk[i] && sigOk[j]
            mPair[q] = m
            val f = if (m) 1.0 else 0.0
            val a = centred[i] * f
            val b = centred[j] * f
            contrib[q] = f
            contrib[N_PAIRS + q] = a
            contrib[2 * N_PAIRS + q] = b
            contrib[3 * N_PAIRS + q] = a * a
            contrib[4 * N_PAIRS + q] = b * b
            contrib[5 * N_PAIRS + q] = a * b
        }
        val leaving = corrRing[ringHead]
        for (k in 0 until 6 * N_PAIRS) {
            corrSums[k] = corrSums[k] + (contrib[k] - leaving[k])
            leaving[k] = contrib[k]
        }
        ringHead = (ringHead + 1) % KmapConstants.CORR_WINDOW

        // ---------------------------------------------------------------- assemble the row
        var o = outOffset
        fun put(v: Double, ok: Boolean) {
            val f = v.toFloat()
            if (f.isFinite()) { out[o] = f; mask[o] = ok } else { out[o] = 0f; mask[o] = false }
            o++
        }
        for (k in 0 until 34) put(held[k], staticOk[k])
        for (k in 0 until 34) put(vel[k], velOk[k])
        for (k in 0 until 34) put(acc[k], accOk[k])
        for (j in 0 until 17) put(speed[j], velOk[2 * j])
        for (k in 34 until 50) put(held[k], staticOk[k])
        put(rootX, rootOk); put(rootY, rootOk); put(meanSpeed, meanOk); put(asymW, asymWOk); put(asymA, asymAOk)
        for (k in 50 until N_STATIC) put(held[k], staticOk[k])
        for (q in 0 until N_PAIRS) {
            val cnt = corrSums[q]
            val invc = 1.0 / maxOf(cnt, 1.0)
            val ma = corrSums[N_PAIRS + q] * invc
            val mb = corrSums[2 * N_PAIRS + q] * invc
            val va = corrSums[3 * N_PAIRS + q] * invc - ma * ma
            val vb = corrSums[4 * N_PAIRS + q] * invc - mb * mb
            val cov = corrSums[5 * N_PAIRS + q] * invc - ma * mb
            val ok = cnt >= KmapConstants.CORR_MIN_FRAMES && va > KmapConstants.CORR_VAR_EPS && vb > KmapConstants.CORR_VAR_EPS
            var r = cov / sqrt(if (ok) va * vb else 1.0)
            r = maxOf(minOf(r, 1.0), -1.0)
            r *= if (ok) 1.0 else 0.0
            put(r, ok)
        }
        check(o - outOffset == Catalog.N_FEATURES)
        frames++
    }

    companion object {
        const val N_STATIC = 82
        val N_PAIRS = Catalog.SIGNAL_PAIRS.size
        private val PI = IntArray(N_PAIRS) { Catalog.SIGNAL_PAIRS[it].first }
        private val PJ = IntArray(N_PAIRS) { Catalog.SIGNAL_PAIRS[it].second }
        private const val RAD2DEG = 180.0 / Math.PI
        private const val MIN_SEGMENT_SQ = KmapConstants.MIN_SEGMENT * KmapConstants.MIN_SEGMENT
        private const val PAIR0 = 28

        // Difference vectors V = P[V1] − P[V2]: segments 0..11, angle arms B→A 12..19, B→C 20..27,
        // symmetric pairs (left − right) 28..35 (signals.py _V1/_V2).
        private val V1 = (Catalog.SEGMENTS.map { it.a } + Catalog.ANGLES.map { it.a } +
            Catalog.ANGLES.map { it.c } + Catalog.SYM_PAIRS.map { it.second }).toIntArray()
        private val V2 = (Catalog.SEGMENTS.map { it.b } + Catalog.ANGLES.map { it.vertex } +
            Catalog.ANGLES.map { it.vertex } + Catalog.SYM_PAIRS.map { it.third }).toIntArray()
        private val TILT_V = Catalog.TILTS.map { t ->
            PAIR0 + Catalog.SYM_PAIRS.indexOfFirst { it.second == t.left && it.third == t.right }
        }.toIntArray()
        private val SHOULDER_V = PAIR0 + Catalog.SYM_PAIRS.indexOfFirst { it.second == 5 && it.third == 6 }

        // src = [y of 17 joints | 14 angle/tilt/lean degrees | mid-shoulder x | head x]
        private val SIG_SRC = intArrayOf(9, 10, 17, 18, 13, 14, 15, 16, 17 + 8, 17 + 9, 31, 32)
        private val SIG_SUB = intArrayOf(0, 1, 11)
        private val SIG_SUB_SRC = intArrayOf(5, 6, 31)

        init {
            check(TILT_V.all { it >= PAIR0 }) { "tilt pairs" }
        }
    }
}

/** One emitted window: rows `[window × 238]` (row-major float32), mask, and the clip frame it ends at. */
class KmapWindow(val rows: FloatArray, val mask: BooleanArray, val endFrame: Long, val window: Int) {
    operator fun get(t: Int, f: Int): Float = rows[t * Catalog.N_FEATURES + f]
}

/**
 * Streaming knowledge map (`scoligait_edge.kmap.StreamingKnowledgeMap`): push one pose frame,
 * get a `[window, 238]` window every `hop` frames once `window` frames are in (at frame counts
 * window, window + hop, …). Each frame is processed once, on arrival (O(1) per frame); rows
 * live in a ring buffer of `window` rows.
 */
class StreamingKnowledgeMap(val window: Int = 96, val hop: Int = 16, val fps: Double = 30.0) {
    init {
        require(window >= 1 && hop >= 1) { "window and hop must be positive integers (window=$window, hop=$hop)" }
    }

    private val state = KmapState(fps)
    private val ring = FloatArray(window * Catalog.N_FEATURES)
    private val ringMask = BooleanArray(window * Catalog.N_FEATURES)
    var framesSeen = 0L; private set
    var lastWindow: KmapWindow? = null; private set

    fun reset() {
        state.reset()
        framesSeen = 0
        lastWindow = null
    }

    /** Add one COCO-17 frame (51 floats); returns a new window when one is due, else null. */
    fun push(frame: FloatArray): KmapWindow? {
        val slot = (framesSeen % window).toInt()
        state.process(frame, ring, ringMask, slot * Catalog.N_FEATURES)
        framesSeen++
        val due = framesSeen - window
        if (due < 0 || due % hop != 0L) return null
        val n = Catalog.N_FEATURES
        val rows = FloatArray(window * n)
        val mask = BooleanArray(window * n)
        val start = (framesSeen % window).toInt() // oldest row
        for (t in 0 until window) {
            val s = ((start + t) % window) * n
            System.arraycopy(ring, s, rows, t * n, n)
            System.arraycopy(ringMask, s, mask, t * n, n)
        }
        return KmapWindow(rows, mask, framesSeen, window).also { lastWindow = it }
    }
}

/** The offline map of a whole clip (`knowledge_map(pose, fps, return_mask=True)`). */
fun knowledgeMap(frames: List<FloatArray>, fps: Double = 30.0): Pair<FloatArray, BooleanArray> {
    val st = KmapState(fps)
    val out = FloatArray(frames.size * Catalog.N_FEATURES)
    val mask = BooleanArray(out.size)
    for ((t, f) in frames.withIndex()) st.process(f, out, mask, t * Catalog.N_FEATURES)
    return out to mask
}
