package org.scoligait.edge.core

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The golden vectors written by `android_demo/tools/make_vectors.py` (directory from the system
 * property `scoligait.vectors`, default `build/vectors` under the working directory).
 */
object Vectors {
    val dir: File by lazy {
        val d = File(System.getProperty("scoligait.vectors") ?: "build/vectors")
        check(File(d, "index.json").isFile) {
            "no golden vectors in ${d.absolutePath}: run `python android_demo/tools/make_vectors.py` (make android-core-test does)"
        }
        d
    }

    @Suppress("UNCHECKED_CAST")
    val index: Map<String, Any?> by lazy { Json.parse(File(dir, "index.json").readText()) as Map<String, Any?> }

    @Suppress("UNCHECKED_CAST")
    val cases: List<Map<String, Any?>> get() = index["cases"] as List<Map<String, Any?>>

    @Suppress("UNCHECKED_CAST")
    fun map(v: Any?): Map<String, Any?> = v as Map<String, Any?>

    @Suppress("UNCHECKED_CAST")
    fun list(v: Any?): List<Any?> = v as List<Any?>

    fun shape(ref: Any?): IntArray = list(map(ref)["shape"]).map { (it as Number).toInt() }.toIntArray()

    private fun bytes(ref: Any?): ByteBuffer {
        val f = File(dir, map(ref)["file"] as String)
        return ByteBuffer.wrap(f.readBytes()).order(ByteOrder.LITTLE_ENDIAN)
    }

    fun floats(ref: Any?): FloatArray {
        val b = bytes(ref)
        return when (map(ref)["dtype"]) {
            "float32" -> FloatArray(b.remaining() / 4).also { b.asFloatBuffer().get(it) }
            "float64" -> FloatArray(b.remaining() / 8) { b.getDouble(8 * it).toFloat() }
            else -> error("not float: ${map(ref)["dtype"]}")
        }
    }

    fun doubles(ref: Any?): DoubleArray {
        val b = bytes(ref)
        check(map(ref)["dtype"] == "float64")
        return DoubleArray(b.remaining() / 8) { b.getDouble(8 * it) }
    }

    fun u8(ref: Any?): ByteArray {
        check(map(ref)["dtype"] == "uint8")
        val b = bytes(ref)
        return ByteArray(b.remaining()).also { b.get(it) }
    }

    fun bools(ref: Any?): BooleanArray = u8(ref).let { a -> BooleanArray(a.size) { a[it].toInt() != 0 } }

    /** The case's 30 Hz pose as frames of 51 floats. */
    fun frames(case: Map<String, Any?>): List<FloatArray> {
        val p = floats(case["pose"])
        return (0 until p.size / 51).map { t -> p.copyOfRange(51 * t, 51 * t + 51) }
    }

    fun silhouettes(case: Map<String, Any?>): List<ByteArray>? {
        val ref = case["silhouettes"] ?: return null
        val s = u8(ref)
        val px = Contract.SIL_H * Contract.SIL_W
        return (0 until s.size / px).map { s.copyOfRange(px * it, px * it + px) }
    }

    fun people(case: Map<String, Any?>): List<Int>? = (case["people"] as? List<*>)?.map { (it as Number).toInt() }

    fun sourceFps(case: Map<String, Any?>): Double = (case["source_fps"] as Number).toDouble()

    val threshold: Double? get() = (index["model"] as? Map<*, *>)?.get("threshold")?.let { (it as Number).toDouble() }

    val bundleDir: File? get() = (index["bundle"] as? Map<*, *>)?.let { File(dir, it["dir"] as String) }

    /** Largest differences seen, per case kind (printed by the runner at the end). */
    val stats = java.util.concurrent.ConcurrentHashMap<String, Double>()

    fun record(key: String, v: Double) {
        stats.merge(key, v) { a, b -> maxOf(a, b) }
    }
}
