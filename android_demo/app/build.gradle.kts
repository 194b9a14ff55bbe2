// The phone app: CameraX → MediaPipe PoseLandmarker (LIVE_STREAM) → :core (streaming knowledge map,
// quality gate, prompt ids, verdict, explanation) → ONNX Runtime Mobile on the bundle's .ort.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "org.scoligait.edge.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.scoligait.edge.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    androidResources {
        // bundle files are hashed and memory-mapped: keep them uncompressed in the APK
        noCompress += listOf("ort", "onnx", "npz", "json", "task", "tflite")
    }
    sourceSets["main"].assets.srcDir(layout.buildDirectory.dir("generated/scoligait-assets"))
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.material)
    implementation(libs.androidx.constraintlayout)
    implementation(libs.camerax.core)
    implementation(libs.camerax.camera2)
    implementation(libs.camerax.lifecycle)
    implementation(libs.camerax.view)
    implementation(libs.mediapipe.tasks.vision)
    implementation(libs.onnxruntime.android)
}

// ---- assets: the exported bundle and MediaPipe's pose_landmarker_full.task ----------------------
// scoligait.bundle: a bundle directory written by `scoligait-edge export` (manifest.json, the .ort, golden.npz)
// scoligait.poseTask: the .task that `scoligait-edge setup-assets` assembles (default: the repository's venv)
fun setting(name: String, env: String): String? =
    providers.gradleProperty(name).orNull ?: System.getenv(env)

val repoRoot = rootDir.parentFile
val bundleDir: File? = setting("scoligait.bundle", "SCOLIGAIT_BUNDLE")?.let { file(it) }
val poseTask: File = setting("scoligait.poseTask", "SCOLIGAIT_POSE_TASK")?.let { file(it) }
    ?: listOf(
        File(repoRoot, ".venv/share/scoligait-edge/pose/pose_landmarker_full.task"),
        File(System.getProperty("user.home"), ".cache/scoligait-edge/pose/pose_landmarker_full.task"),
    ).firstOrNull { it.isFile } ?: File(repoRoot, ".venv/share/scoligait-edge/pose/pose_landmarker_full.task")

val scoligaitAssets by tasks.registering(Sync::class) {
    description = "Copy the model bundle and the pose landmarker into the app's assets."
    into(layout.buildDirectory.dir("generated/scoligait-assets"))
    doFirst {
        check(bundleDir != null && File(bundleDir, "manifest.json").isFile) {
            "no model bundle: pass -Pscoligait.bundle=DIR (a directory written by `scoligait-edge export --target ort-mobile`)"
        }
        check(poseTask.isFile) { "no pose landmarker at $poseTask: run `scoligait-edge setup-assets` or pass -Pscoligait.poseTask=FILE" }
    }
    if (bundleDir != null) from(bundleDir) { into("bundle") }
    from(poseTask) { rename { "pose_landmarker_full.task" } }
}
tasks.named("preBuild") { dependsOn(scoligaitAssets) }
