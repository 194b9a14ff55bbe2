package org.scoligait.edge.core

import java.io.ByteArrayOutputStream
import java.io.File
import java.io.InputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.zip.ZipInputStream

/** One numpy array read from `.npy` / `.npz` (plain or compressed); data kept as raw little-endian bytes. */
class NpyArray(val dtype: String, val shape: IntArray, private val data: ByteBuffer) {
    val size: Int get() = shape.fold(1) { a, b -> a * b }

    private fun code(): String = dtype.trimStart('<', '|', '=')

    fun floats(): FloatArray {
        val n = size
        val out = FloatArray(n)
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        when (code()) {
            "f4" -> b.asFloatBuffer().get(out)
            "f8" -> for (i in 0 until n) out[i] = b.getDouble(8 * i).toFloat()
            "f2" -> for (i in 0 until n) out[i] = halfToFloat(b.getShort(2 * i))
            "u1" -> for (i in 0 until n) out[i] = (b.get(i).toInt() and 0xff).toFloat()
            "b1" -> for (i in 0 until n) out[i] = if (b.get(i).toInt() != 0) 1f else 0f
            else -> throw IllegalArgumentException("cannot read dtype $dtype as float")
        }
        return out
    }

    fun longs(): LongArray {
        val n = size
        val b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN)
        return when (code()) {
            "i8" -> LongArray(n) { b.getLong(8 * it) }
            "i4" -> LongArray(n) { b.getInt(4 * it).toLong() }
            "u1" -> LongArray(n) { (b.get(it).toInt() and 0xff).toLong() }
            else -> throw IllegalArgumentException("cannot read dtype $dtype as integers")
        }
    }

    fun bytes(): ByteArray {
        require(code() == "u1" || code() == "b1" || code() == "i1") { "dtype $dtype is not a byte type" }
        val out = ByteArray(size)
        data.duplicate().get(out)
        return out
    }

    companion object {
        /** IEEE 754 half → float. */
        fun halfToFloat(h: Short): Float {
            val bits = h.toInt() and 0xffff
            val sign = (bits ushr 15) and 1
            val exp = (bits ushr 10) and 0x1f
            val mant = bits and 0x3ff
            val v: Float = when (exp) {
                0 -> mant * (1f / (1 shl 24)) // subnormal: mant · 2^-24
                31 -> if (mant == 0) Float.POSITIVE_INFINITY else Float.NaN
                else -> Float.fromBits(((exp - 15 + 127) shl 23) or (mant shl 13))
            }
            return if (sign == 1) -v else v
        }

        fun parse(bytes: ByteArray): NpyArray {
            require(bytes.size >= 10 && bytes[0] == 0x93.toByte() && String(bytes, 1, 5, Charsets.US_ASCII) == "NUMPY") {
                "not a .npy array"
            }
            val major = bytes[6].toInt()
            val bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
            val (hlen, hstart) = if (major == 1) (bb.getShort(8).toInt() and 0xffff) to 10 else bb.getInt(8) to 12
            val header = String(bytes, hstart, hlen, Charsets.ISO_8859_1)
            val descr = Regex("'descr'\\s*:\\s*'([^']+)'").find(header)?.groupValues?.get(1)
                ?: throw IllegalArgumentException("npy header without descr")
            if (Regex("'fortran_order'\\s*:\\s*True").containsMatchIn(header)) {
                throw IllegalArgumentException("Fortran-ordered arrays are not supported")
            }
            val shapeText = Regex("'shape'\\s*:\\s*\\(([^)]*)\\)").find(header)?.groupValues?.get(1)
                ?: throw IllegalArgumentException("npy header without shape")
            val shape = shapeText.split(',').map { it.trim() }.filter { it.isNotEmpty() }.map { it.toInt() }.toIntArray()
            if (descr.startsWith(">")) throw IllegalArgumentException("big-endian arrays are not supported")
            val data = ByteBuffer.wrap(bytes, hstart + hlen, bytes.size - hstart - hlen).slice()
            return NpyArray(descr, shape, data)
        }

        /** Every array of an `.npz` (zip of `.npy`, stored or deflated), by name without `.npy`. */
        fun readNpz(input: InputStream): Map<String, NpyArray> {
            val out = LinkedHashMap<String, NpyArray>()
            ZipInputStream(input).use { z ->
                while (true) {
                    val e = z.nextEntry ?: break
                    if (e.isDirectory) continue
                    val buf = ByteArrayOutputStream()
                    z.copyTo(buf)
                    out[e.name.removeSuffix(".npy")] = parse(buf.toByteArray())
                }
            }
            return out
        }

        fun readNpz(file: File): Map<String, NpyArray> = file.inputStream().buffered().use { readNpz(it) }
    }
}
