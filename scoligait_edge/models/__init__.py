"""ScoliGait models: teacher, student, building blocks, checkpoints and explanations."""

from scoligait_edge.models.base import ExportView, ScoliGaitModel
from scoligait_edge.models.checkpoint import (
    build_model,
    default_student_path,
    default_teacher_path,
    load_default_student,
    load_default_teacher,
    load_model,
    read_config,
    save_model,
)
from scoligait_edge.models.config import ModelConfig, student_config, teacher_config
from scoligait_edge.models.flops import count_flops, example_inputs
from scoligait_edge.models.student import Student
from scoligait_edge.models.teacher import Teacher

__all__ = [
    "ExportView",
    "ModelConfig",
    "ScoliGaitModel",
    "Student",
    "Teacher",
    "build_model",
    "count_flops",
    "default_student_path",
    "default_teacher_path",
    "example_inputs",
    "load_default_student",
    "load_default_teacher",
    "load_model",
    "read_config",
    "save_model",
    "student_config",
    "teacher_config",
]
