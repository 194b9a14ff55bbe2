package org.scoligait.edge.core.ort

import com.sun.jna.Function
import com.sun.jna.Memory
import com.sun.jna.NativeLibrary
import com.sun.jna.Pointer
import com.sun.jna.StringArray
import org.scoligait.edge.core.Catalog
import org.scoligait.edge.core.Contract
import org.scoligait.edge.core.ModelOutputs
import org.scoligait.edge.core.ModelRunner

/**
 * A minimal JNA binding of the ONNX Runtime C API (`OrtGetApiBase()` → `OrtApi` function table),
 * enough to run a bundle's `.onnx` / `.ort` on the JVM with the C library shipped in the
 * `onnxruntime` PyPI wheel. JVM tests only: the app uses `onnxruntime-android`'s Java API.
 *
 * Table slots are those of `onnxruntime_c_api.h` "Version 1" (frozen; later versions only append).
 */
class OrtApi(libPath: String) {
    private val lib = NativeLibrary.getInstance(libPath)
    private val base: Pointer = lib.getFunction("OrtGetApiBase").invokePointer(emptyArray())
    val version: String = Function.getFunction(base.getPointer(8)).invokeString(emptyArray(), false)
    private val table: Pointer = Function.getFunction(base.getPointer(0)).invokePointer(arrayOf(API_VERSION))
        ?: throw IllegalStateException("ONNX Runtime $version does not offer C API version $API_VERSION")

    private fun fn(slot: Int): Function = Function.getFunction(table.getPointer(8L * slot))

    /** Call a status-returning function; throws with ORT's message on failure. */
    fun call(slot: Int, vararg args: Any?) {
        val status = fn(slot).invokePointer(arrayOf(*args))
        if (status != null) {
            val msg = fn(GET_ERROR_MESSAGE).invokeString(arrayOf(status), false)
            fn(RELEASE_STATUS).invokeVoid(arrayOf(status))
            throw IllegalStateException("ONNX Runtime: $msg")
        }
    }

    fun release(slot: Int, p: Pointer?) {
        if (p != null) fn(slot).invokeVoid(arrayOf(p))
    }

    /** `OrtXxx** out` helper: run `block` with an out-pointer slot, return what ORT stored there. */
    fun out(block: (Memory) -> Unit): Pointer {
        val m = Memory(8)
        m.setPointer(0, null)
        block(m)
        return m.getPointer(0) ?: throw IllegalStateException("ONNX Runtime returned a null object")
    }

    companion object {
        const val API_VERSION = 1
        const val GET_ERROR_MESSAGE = 2
        const val CREATE_ENV = 3
        const val CREATE_SESSION = 7
        const val RUN = 9
        const val CREATE_SESSION_OPTIONS = 10
        const val SET_INTRA_OP_NUM_THREADS = 24
        const val SET_INTER_OP_NUM_THREADS = 25
        const val CREATE_TENSOR_WITH_DATA = 49
        const val GET_TENSOR_MUTABLE_DATA = 51
        const val GET_TENSOR_SHAPE_ELEMENT_COUNT = 64
        const val GET_TENSOR_TYPE_AND_SHAPE = 65
        const val CREATE_CPU_MEMORY_INFO = 69
        const val RELEASE_ENV = 92
        const val RELEASE_STATUS = 93
        const val RELEASE_MEMORY_INFO = 94
        const val RELEASE_SESSION = 95
        const val RELEASE_VALUE = 96
        const val RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99
        const val RELEASE_SESSION_OPTIONS = 100

        const val ORT_LOGGING_LEVEL_WARNING = 2
        const val ORT_ARENA_ALLOCATOR = 1
        const val ORT_MEM_TYPE_DEFAULT = 0
        const val TYPE_FLOAT = 1
        const val TYPE_INT64 = 7
    }
}

/** A [ModelRunner] over one ONNX Runtime session (CPU, `threads` intra-op threads). */
class OrtJnaRunner(libPath: String, modelPath: String, threads: Int = 1) : ModelRunner {
    val api = OrtApi(libPath)
    private val env: Pointer = api.out { api.call(OrtApi.CREATE_ENV, OrtApi.ORT_LOGGING_LEVEL_WARNING, "scoligait-jvm", it) }
    private val session: Pointer
    private val memInfo: Pointer = api.out { api.call(OrtApi.CREATE_CPU_MEMORY_INFO, OrtApi.ORT_ARENA_ALLOCATOR, OrtApi.ORT_MEM_TYPE_DEFAULT, it) }

    init {
        val opts = api.out { api.call(OrtApi.CREATE_SESSION_OPTIONS, it) }
        try {
            api.call(OrtApi.SET_INTRA_OP_NUM_THREADS, opts, threads)
            api.call(OrtApi.SET_INTER_OP_NUM_THREADS, opts, 1)
            session = api.out { api.call(OrtApi.CREATE_SESSION, env, modelPath, opts, it) }
        } finally {
            api.release(OrtApi.RELEASE_SESSION_OPTIONS, opts)
        }
    }

    private fun tensor(data: Memory, shape: LongArray, type: Int): Pointer {
        val dims = Memory(8L * shape.size)
        for ((i, d) in shape.withIndex()) dims.setLong(8L * i, d)
        return api.out { api.call(OrtApi.CREATE_TENSOR_WITH_DATA, memInfo, data, data.size(), dims, shape.size.toLong(), type, it) }
    }

    private fun floats(value: Pointer): FloatArray {
        val info = api.out { api.call(OrtApi.GET_TENSOR_TYPE_AND_SHAPE, value, it) }
        val count = Memory(8)
        try {
            api.call(OrtApi.GET_TENSOR_SHAPE_ELEMENT_COUNT, info, count)
        } finally {
            api.release(OrtApi.RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, info)
        }
        val data = api.out { api.call(OrtApi.GET_TENSOR_MUTABLE_DATA, value, it) }
        return data.getFloatArray(0, count.getLong(0).toInt())
    }

    override fun run(kmap: FloatArray, silhouette: FloatArray, promptId: LongArray): ModelOutputs {
        val n = promptId.size.toLong()
        val w = Contract.WINDOW.toLong()
        require(kmap.size.toLong() == n * w * Catalog.N_FEATURES && silhouette.size.toLong() == n * w * Contract.SIL_H * Contract.SIL_W) {
            "inputs do not hold $n windows"
        }
        val km = Memory(4L * kmap.size).also { it.write(0, kmap, 0, kmap.size) }
        val sil = Memory(4L * silhouette.size).also { it.write(0, silhouette, 0, silhouette.size) }
        val pid = Memory(8L * promptId.size).also { it.write(0, promptId, 0, promptId.size) }
        val inputs = listOf(
            tensor(km, longArrayOf(n, w, Catalog.N_FEATURES.toLong()), OrtApi.TYPE_FLOAT),
            tensor(sil, longArrayOf(n, w, Contract.SIL_H.toLong(), Contract.SIL_W.toLong()), OrtApi.TYPE_FLOAT),
            tensor(pid, longArrayOf(n), OrtApi.TYPE_INT64),
        )
        val inArr = Memory(8L * inputs.size).also { m -> inputs.forEachIndexed { i, p -> m.setPointer(8L * i, p) } }
        val outArr = Memory(8L * Contract.OUTPUT_NAMES.size).also { m -> for (i in Contract.OUTPUT_NAMES.indices) m.setPointer(8L * i, null) }
        try {
            api.call(
                OrtApi.RUN, session, null, StringArray(Contract.INPUT_NAMES.toTypedArray()), inArr, inputs.size.toLong(),
                StringArray(Contract.OUTPUT_NAMES.toTypedArray()), Contract.OUTPUT_NAMES.size.toLong(), outArr,
            )
            val outs = Contract.OUTPUT_NAMES.indices.map { floats(outArr.getPointer(8L * it)) }
            return ModelOutputs(outs[0], outs[1], outs[2], outs[3])
        } finally {
            for (i in Contract.OUTPUT_NAMES.indices) api.release(OrtApi.RELEASE_VALUE, outArr.getPointer(8L * i))
            for (p in inputs) api.release(OrtApi.RELEASE_VALUE, p)
            // keep the buffers reachable until ORT is done with them
            km.size(); sil.size(); pid.size()
        }
    }

    override fun close() {
        api.release(OrtApi.RELEASE_SESSION, session)
        api.release(OrtApi.RELEASE_MEMORY_INFO, memInfo)
        api.release(OrtApi.RELEASE_ENV, env)
    }
}
