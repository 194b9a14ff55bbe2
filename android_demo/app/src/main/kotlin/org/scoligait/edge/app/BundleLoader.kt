package org.scoligait.edge.app

import android.content.Context
import org.scoligait.edge.core.BundleException
import org.scoligait.edge.core.Golden
import org.scoligait.edge.core.GoldenReport
import org.scoligait.edge.core.Manifest

/** A verified bundle whose golden vectors passed on this phone, with its model loaded. */
class LoadedBundle(val manifest: Manifest, val model: String, val runner: OrtMobileRunner, val selfTest: GoldenReport)

/**
 * First thing at start-up: verify the packaged bundle (schema, catalog hash, contract, sha256 of
 * every file — core `Manifest.verify`), load its mobile model, and run its golden vectors through
 * ONNX Runtime on this phone (core `Golden.run`). A bundle that fails any step is refused with the
 * reason; the app then screens nobody.
 */
object BundleLoader {
    fun load(context: Context): LoadedBundle {
        val files = AssetBundleFiles(context.assets, "bundle")
        val manifest = Manifest.verify(files)
        val model = manifest.mobileModel()
        val runner = OrtMobileRunner(files.open(model).use { it.readBytes() })
        val report = try {
            Golden.run(runner, files, manifest)
        } catch (e: Exception) {
            runner.close()
            throw e
        }
        if (!report.passed) {
            runner.close()
            throw BundleException(
                "the bundle's golden vectors fail on this phone (${report.failures.joinToString("; ")})",
                "export the bundle for this device class (scoligait-edge export --device arm64 or any) and reinstall",
            )
        }
        return LoadedBundle(manifest, model, runner, report)
    }
}
