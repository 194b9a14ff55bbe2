package org.scoligait.edge.core

import kotlin.math.floor

/**
 * OpenGait / Scoliosis1K silhouettes from a person mask: a port of
 * `scoligait_edge.pose.video.silhouette_64x44` (threshold → crop to the mask's rows → resize to
 * height 64 keeping the aspect ratio with OpenCV's bicubic `INTER_CUBIC` → centre a 64-wide window
 * on the column-mass median → cut 10 columns each side → 64 × 44 uint8).
 *
 * The resize follows OpenCV's 8-bit bicubic path (A = −0.75, pixel-centre mapping, replicated
 * border, 11-bit fixed-point coefficients). OpenCV's SIMD code may round a few edge pixels one
 * grey level differently; the tests bound the difference.
 */
object Silhouettes {
    const val MASK_THRESHOLD = 0.5f
    private const val COEF_BITS = 11
    private const val COEF_SCALE = 1 shl COEF_BITS

    /** `mask` is `[height × width]` row-major in [0, 1] (MediaPipe's confidence mask). */
    fun fromMask(mask: FloatArray, width: Int, height: Int, threshold: Float = MASK_THRESHOLD): ByteArray {
        require(mask.size >= width * height && width > 0 && height > 0) { "mask must be [height × width]" }
        val out = ByteArray(Contract.SIL_H * Contract.SIL_W)
        var r0 = -1
        var r1 = -1
        for (y in 0 until height) {
            var any = false
            for (x in 0 until width) if (mask[y * width + x] >= threshold) { any = true; break }
            if (any) { if (r0 < 0) r0 = y; r1 = y }
        }
        if (r0 < 0 || r1 == r0) return out // fewer than two rows
        val h = r1 - r0 + 1
        val crop = IntArray(h * width)
        for (y in 0 until h) for (x in 0 until width) crop[y * width + x] = if (mask[(r0 + y) * width + x] >= threshold) 255 else 0
        val newW = maxOf(1, pyRound(width * Contract.SIL_H.toDouble() / h))
        val res = resizeCubicU8(crop, width, h, newW, Contract.SIL_H)
        // column mass cumsum and its median column
        val colMass = DoubleArray(newW)
        var acc = 0.0
        for (x in 0 until newW) {
            var s = 0L
            for (y in 0 until Contract.SIL_H) s += res[y * newW + x]
            acc += s.toDouble()
            colMass[x] = acc
        }
        if (colMass[newW - 1] <= 0) return out
        val half = colMass[newW - 1] / 2.0
        var xCenter = 0
        while (xCenter < newW && colMass[xCenter] < half) xCenter++ // np.searchsorted (left)
        val halfW = Contract.SIL_H / 2
        val cut = (Contract.SIL_H - Contract.SIL_W) / 2
        for (y in 0 until Contract.SIL_H) for (c in 0 until Contract.SIL_W) {
            val px = xCenter + cut + c - halfW // column in the unpadded crop
            val v = if (px in 0 until newW) res[y * newW + px] else 0
            out[y * Contract.SIL_W + c] = v.toByte()
        }
        return out
    }

    /** Python's `round()` on a double (half to even). */
    private fun pyRound(x: Double): Int = Math.rint(x).toInt()

    private fun cubicCoeffs(x: Float, c: FloatArray) {
        val a = -0.75f
        c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
        c[1] = ((a + 2) * x - (a + 3)) * x * x + 1
        c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
        c[3] = 1f - c[0] - c[1] - c[2]
    }

    /** OpenCV `resize(..., INTER_CUBIC)` of a single-channel 8-bit image (values in `src` 0..255). */
    fun resizeCubicU8(src: IntArray, sw: Int, sh: Int, dw: Int, dh: Int): IntArray {
        val scaleX = 1.0 / (dw.toDouble() / sw)
        val scaleY = 1.0 / (dh.toDouble() / sh)
        val xofs = IntArray(dw)
        val alpha = IntArray(dw * 4)
        val c = FloatArray(4)
        for (dx in 0 until dw) {
            var fx = ((dx + 0.5) * scaleX - 0.5).toFloat()
            val sx = floor(fx).toInt()
            fx -= sx
            cubicCoeffs(fx, c)
            xofs[dx] = sx
            for (k in 0 until 4) alpha[dx * 4 + k] = Math.rint((c[k] * COEF_SCALE).toDouble()).toInt()
        }
        val yofs = IntArray(dh)
        val beta = IntArray(dh * 4)
        for (dy in 0 until dh) {
            var fy = ((dy + 0.5) * scaleY - 0.5).toFloat()
            val sy = floor(fy).toInt()
            fy -= sy
            cubicCoeffs(fy, c)
            yofs[dy] = sy
            for (k in 0 until 4) beta[dy * 4 + k] = Math.rint((c[k] * COEF_SCALE).toDouble()).toInt()
        }
        // horizontal pass on every source row (int sums), then vertical pass with rounding
        val hrows = Array(sh) { y ->
            IntArray(dw) { dx ->
                var v = 0
                for (k in 0 until 4) {
                    val sx = (xofs[dx] - 1 + k).coerceIn(0, sw - 1)
                    v += src[y * sw + sx] * alpha[dx * 4 + k]
                }
                v
            }
        }
        val out = IntArray(dw * dh)
        val shift = 2 * COEF_BITS
        val delta = 1L shl (shift - 1)
        for (dy in 0 until dh) for (dx in 0 until dw) {
            var v = 0L
            for (k in 0 until 4) {
                val sy = (yofs[dy] - 1 + k).coerceIn(0, sh - 1)
                v += hrows[sy][dx].toLong() * beta[dy * 4 + k]
            }
            out[dy * dw + dx] = ((v + delta) shr shift).toInt().coerceIn(0, 255)
        }
        return out
    }

    /** Round-trip helper for tests and the app: uint8 silhouette → floats in [0, 1]. */
    fun toUnit(sil: ByteArray): FloatArray = FloatArray(sil.size) { (sil[it].toInt() and 0xff).toFloat() / 255f }
}
