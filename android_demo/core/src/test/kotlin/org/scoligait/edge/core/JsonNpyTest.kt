package org.scoligait.edge.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.util.zip.ZipEntry
import java.util.zip.ZipOutputStream

class JsonNpyTest {
    @Test
    fun jsonRoundTrip() {
        val v = Json.parse("""{"a": [1, 2.5, -3e2, true, false, null, "x\"\\\n\u00e9"], "b": {}, "c": []}""")
        val m = Vectors.map(v)
        assertEquals(listOf(1L, 2.5, -300.0, true, false, null, "x\"\\\n\u00e9"), m["a"])
        assertEquals(v, Json.parse(Json.write(v)))
        assertEquals(v, Json.parse(Json.write(v, indent = 2)))
        assertEquals("\"\\u2212 \\u00e9\"", StringBuilder().also { Json.quoteAscii("\u2212 \u00e9", it) }.toString())
        for (bad in listOf("{", "[1,", "{\"a\" 1}", "tru", "1 2", "\"abc")) {
            try { Json.parse(bad); throw AssertionError("parsed '$bad'") } catch (e: Json.ParseException) { /* expected */ }
        }
        assertEquals("null", Json.write(Double.NaN))
    }

    @Test
    fun halfFloats() {
        assertEquals(1f, NpyArray.halfToFloat(0x3c00.toShort()), 0f)
        assertEquals(-2f, NpyArray.halfToFloat(0xc000.toShort()), 0f)
        assertEquals(65504f, NpyArray.halfToFloat(0x7bff.toShort()), 0f)
        assertEquals(5.9604645e-8f, NpyArray.halfToFloat(0x0001.toShort()), 0f)
        assertTrue(NpyArray.halfToFloat(0x7e00.toShort()).isNaN())
        assertEquals(Float.POSITIVE_INFINITY, NpyArray.halfToFloat(0x7c00.toShort()), 0f)
    }

    private fun npy(descr: String, shape: String, data: ByteArray): ByteArray {
        var header = "{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
        while ((10 + header.length + 1) % 64 != 0) header += " "
        header += "\n"
        val out = ByteArrayOutputStream()
        out.write(byteArrayOf(0x93.toByte()) + "NUMPY".toByteArray() + byteArrayOf(1, 0, (header.length and 0xff).toByte(), (header.length shr 8).toByte()))
        out.write(header.toByteArray())
        out.write(data)
        return out.toByteArray()
    }

    @Test
    fun npzOfSeveralDtypes() {
        val zip = ByteArrayOutputStream()
        ZipOutputStream(zip).use { z ->
            z.putNextEntry(ZipEntry("a.npy")); z.write(npy("<f4", "(2,)", byteArrayOf(0, 0, 0x80.toByte(), 0x3f, 0, 0, 0, 0x40))); z.closeEntry()
            z.putNextEntry(ZipEntry("ref/b.npy")); z.write(npy("<i8", "(1,)", byteArrayOf(7, 0, 0, 0, 0, 0, 0, 0))); z.closeEntry()
            z.putNextEntry(ZipEntry("c.npy")); z.write(npy("|u1", "(1, 3)", byteArrayOf(1, 2, 3))); z.closeEntry()
            z.putNextEntry(ZipEntry("s.npy")); z.write(npy("<f8", "()", ByteArray(8))); z.closeEntry()
        }
        val a = NpyArray.readNpz(ByteArrayInputStream(zip.toByteArray()))
        assertArrayEquals(floatArrayOf(1f, 2f), a.getValue("a").floats(), 0f)
        assertArrayEquals(longArrayOf(7), a.getValue("ref/b").longs())
        assertArrayEquals(intArrayOf(1, 3), a.getValue("c").shape)
        assertArrayEquals(byteArrayOf(1, 2, 3), a.getValue("c").bytes())
        assertEquals(1, a.getValue("s").size)
    }
}
