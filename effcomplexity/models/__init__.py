"""Model families scikit-learn lacks."""
