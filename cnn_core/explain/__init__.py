"""Explanations of the network's decisions, computed on a frozen copy of the weights.

The GUI and the command line use :func:`explain` / :class:`Explainer`; the
rest is here for tests, benchmarks and the Evaluate view.

Modules
-------
passes        input checks, class targets, inner-layer passes, map resizing
backprop      backward passes without parameter gradients (input and feature maps only)
activations   every layer's output per image; kernel mosaics
cam           Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM (one base class)
attribution   saliency, SmoothGrad, Integrated Gradients, occlusion
features      feature visualisation, top-activating patches, receptive fields
faithfulness  deletion / insertion curves and their AUC, random-order baseline
sanity        Adebayo et al.'s cascading model-randomisation check
embedding     PCA of the dense layer with a basis kept fixed across epochs
api           Explanation, Analysis, Explainer, explain
"""
from .activations import activations, batch_activations, kernel_mosaics
from .api import (METHODS, Analysis, Explainer, Explanation, check_method, empty_map_note,
                  explain, heatmap_function)
from .attribution import (IG_STEPS, Attribution, completeness_gap, integrated_gradients,
                          occlusion, saliency, smooth_grad)
from .cam import CAM, CAM_METHODS, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, record_pass
from .embedding import EMBEDDING_LAYER, PCAEmbedding, dense_features
from .faithfulness import Curves, compare_with_random, perturbation_curves, random_heatmaps
from .features import TopPatches, feature_visualisation, receptive_field, top_patches
from .sanity import SanityReport, randomise, sanity_check, sanity_check_methods, spearman

__all__ = [
    "METHODS", "Analysis", "Explainer", "Explanation", "check_method", "empty_map_note",
    "explain", "heatmap_function", "activations", "batch_activations", "kernel_mosaics",
    "IG_STEPS", "Attribution", "completeness_gap", "integrated_gradients", "occlusion",
    "saliency", "smooth_grad", "CAM", "CAM_METHODS", "GradCAM", "GradCAMPlusPlus", "HiResCAM",
    "LayerCAM", "record_pass", "EMBEDDING_LAYER", "PCAEmbedding", "dense_features", "Curves",
    "compare_with_random", "perturbation_curves", "random_heatmaps",
    "TopPatches", "feature_visualisation", "receptive_field", "top_patches", "SanityReport",
    "randomise", "sanity_check", "sanity_check_methods", "spearman",
]
