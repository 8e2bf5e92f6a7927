"""credit_risk: the credit-risk classification pipeline's Python package.

Loading, hashing, gates, publishing, supervision, exports and the CLI. The DAGs
in ../dags are thin wrappers around the functions here.
"""

__version__ = "0.1.0"
