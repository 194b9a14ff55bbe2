package org.scoligait.edge.app

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.Matrix
import android.hardware.camera2.CaptureRequest
import android.os.Bundle
import android.os.SystemClock
import android.util.Range
import android.util.Size
import android.widget.Button
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.annotation.OptIn
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.camera2.interop.Camera2Interop
import androidx.camera.camera2.interop.ExperimentalCamera2Interop
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.scoligait.edge.core.BundleException
import org.scoligait.edge.core.DetectedPerson
import org.scoligait.edge.core.Json
import org.scoligait.edge.core.LiveSession
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Film a child walking toward or away from the phone; see the quality checks live; get
 * `refer | no-referral | retake` with the top features per domain. All screening logic is in
 * `:core` (LiveSession); this activity only moves frames and text around.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var preview: PreviewView
    private lateinit var hint: TextView
    private lateinit var checks: TextView
    private lateinit var status: TextView
    private lateinit var result: TextView
    private lateinit var button: Button

    private val cameraExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val pipeline: ExecutorService = Executors.newSingleThreadExecutor() // the core is single-threaded
    private var bundle: LoadedBundle? = null
    private var pose: PoseLandmarkerHelper? = null
    @Volatile private var session: LiveSession? = null
    private var startMs = -1L
    private var lastTs = -1L // LIVE_STREAM needs strictly increasing timestamps

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { ok ->
        if (ok) startCamera() else status.text = getString(R.string.camera_needed)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        hint = findViewById(R.id.hint)
        checks = findViewById(R.id.checks)
        status = findViewById(R.id.status)
        result = findViewById(R.id.result)
        button = findViewById(R.id.button)
        button.setOnClickListener { toggle() }
        pipeline.execute { selfTest() }
    }

    /** Verify the bundle and run its golden vectors before anything is screened. */
    private fun selfTest() {
        val text = try {
            val b = BundleLoader.load(this)
            bundle = b
            pose = PoseLandmarkerHelper(this, onPeople = ::onPeople, onError = { e -> runOnUiThread { status.text = "pose: ${e.message}" } })
            "${b.manifest.target} ${b.manifest.precision} (${b.model}) — ${b.selfTest.summary()}"
        } catch (e: BundleException) {
            "This model bundle is refused: ${e.reason}. ${e.remedy}."
        } catch (e: Exception) {
            "The model bundle could not be loaded: ${e.javaClass.simpleName}: ${e.message}"
        }
        runOnUiThread {
            status.text = text
            if (bundle != null) {
                if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
                    startCamera()
                } else {
                    askCamera.launch(Manifest.permission.CAMERA)
                }
            }
        }
    }

    @OptIn(ExperimentalCamera2Interop::class)
    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val previewUse = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            val builder = ImageAnalysis.Builder()
                .setResolutionSelector(
                    ResolutionSelector.Builder().setResolutionStrategy(
                        ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                    ).build(),
                )
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
            // ask for a steady 30 fps (the quality gate wants >= 24 fps; the core resamples to 30 Hz)
            Camera2Interop.Extender(builder).setCaptureRequestOption(CaptureRequest.CONTROL_AE_TARGET_FPS_RANGE, Range(30, 30))
            val analysis = builder.build().also { it.setAnalyzer(cameraExecutor, ::analyze) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUse, analysis)
            button.isEnabled = true
        }, ContextCompat.getMainExecutor(this))
    }

    private fun analyze(image: ImageProxy) {
        image.use {
            val p = pose ?: return
            val bmp = it.toBitmap()
            val deg = it.imageInfo.rotationDegrees
            val upright = if (deg == 0) bmp else Bitmap.createBitmap(bmp, 0, 0, bmp.width, bmp.height, Matrix().apply { postRotate(deg.toFloat()) }, true)
            lastTs = maxOf(SystemClock.uptimeMillis(), lastTs + 1)
            p.detect(upright, lastTs)
        }
    }

    /** MediaPipe's thread → the pipeline thread → the core. */
    private fun onPeople(timestampMs: Long, people: List<DetectedPerson>) {
        pipeline.execute {
            val s = session ?: return@execute
            if (startMs < 0) startMs = timestampMs
            val u = s.onCameraFrame((timestampMs - startMs) / 1000.0, people)
            runOnUiThread {
                checks.text = ResultText.checks(u)
                hint.text = ResultText.hint(u) ?: getString(R.string.protocol)
            }
        }
    }

    private fun toggle() {
        val b = bundle ?: return
        pipeline.execute {
            val s = session
            if (s == null) {
                startMs = -1
                session = LiveSession(b.manifest.decisionThreshold, b.runner, bundleName = "${b.manifest.target}/${b.model}")
                runOnUiThread { button.text = getString(R.string.stop); result.text = "" }
            } else {
                session = null
                val r = s.finish()
                save(r.toJson())
                runOnUiThread {
                    button.text = getString(R.string.start)
                    result.text = ResultText.result(r)
                }
            }
        }
    }

    /** `result.json` in the app's private files (no video pixels are ever stored). */
    private fun save(json: Map<String, Any?>) {
        val dir = File(filesDir, "results").apply { mkdirs() }
        val name = SimpleDateFormat("yyyyMMdd-HHmmss", Locale.ROOT).format(Date())
        val tmp = File(dir, "$name.json.tmp")
        tmp.writeText(Json.write(json, indent = 2))
        tmp.renameTo(File(dir, "$name.json"))
    }

    override fun onDestroy() {
        super.onDestroy()
        cameraExecutor.shutdown()
        pipeline.execute {
            pose?.close()
            bundle?.runner?.close()
        }
        pipeline.shutdown()
    }
}
