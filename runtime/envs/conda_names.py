"""Conda package names and what they are on PyPI: renamed, the same, or conda-only builds that wheels make moot.

Keys are canonical names (packaging.utils.canonicalize_name of the lower-cased conda name). A name in none of the
tables is refused rather than guessed: installing a same-named but unrelated PyPI project would be worse.
"""

from __future__ import annotations

#: Conda names whose PyPI project is called something else.
RENAMED: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-base": "tensorflow",
    "opencv": "opencv-python",
    "py-opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "arrow-cpp": "pyarrow",
    "numpy-base": "numpy",
    "python-graphviz": "graphviz",
    "py-lightgbm": "lightgbm",
    "lightgbm-cpu": "lightgbm",
    "pyqt": "pyqt5",
    "python-kaleido": "kaleido",
}

#: Common ML and data packages that conda-forge and PyPI name the same.
SAME_ON_PYPI: frozenset[str] = frozenset(
    {
        # numerics and data
        "numpy", "pandas", "scipy", "pyarrow", "polars", "numexpr", "bottleneck", "numba", "llvmlite", "xarray",
        "dask", "distributed", "h5py", "tables", "netcdf4", "zarr", "fastparquet", "duckdb", "sqlalchemy", "sympy",
        "networkx", "patsy", "statsmodels", "openpyxl", "xlrd", "xlsxwriter", "pyspark", "py4j",
        # classic ML
        "scikit-learn", "scikit-image", "xgboost", "lightgbm", "catboost", "joblib", "threadpoolctl",
        "imbalanced-learn", "optuna", "hyperopt", "shap", "lime", "prophet", "pmdarima", "sktime", "category-encoders",
        "scikit-optimize", "umap-learn", "hdbscan", "interpret", "fairlearn",
        # deep learning
        "torch", "torchvision", "torchaudio", "torchtext", "torchmetrics", "lightning", "pytorch-lightning",
        "tensorflow", "tensorflow-cpu", "tensorflow-estimator", "tensorflow-hub", "tensorflow-datasets",
        "tensorflow-probability", "tensorboard", "keras", "jax", "jaxlib", "flax", "optax", "einops", "timm", "onnx",
        "onnxruntime", "onnxruntime-gpu", "onnxmltools", "onnxconverter-common", "skl2onnx", "tf2onnx", "openvino",
        # language and vision
        "transformers", "tokenizers", "datasets", "huggingface-hub", "safetensors", "accelerate", "sentencepiece",
        "sentence-transformers", "peft", "evaluate", "nltk", "spacy", "gensim", "regex", "tiktoken",
        "opencv-python", "opencv-python-headless", "pillow", "imageio", "tifffile", "albumentations", "pydicom",
        # MLflow and serialization
        "mlflow", "mlflow-skinny", "cloudpickle", "dill", "protobuf", "msgpack", "msgspec", "pyyaml", "ujson",
        "orjson", "inference-schema",
        # plotting
        "matplotlib", "seaborn", "plotly", "bokeh", "altair", "graphviz", "pydot", "kaleido",
        # common utilities and their dependencies
        "requests", "urllib3", "certifi", "idna", "charset-normalizer", "tqdm", "click", "rich", "attrs",
        "packaging", "setuptools", "six", "python-dateutil", "pytz", "tzlocal", "typing-extensions",
        "importlib-metadata", "filelock", "fsspec", "s3fs", "gcsfs", "adlfs", "psutil", "pydantic", "fastapi",
        "flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "uvicorn", "aiohttp", "pyzmq", "tornado",
        "cython", "pybind11", "wrapt", "absl-py", "termcolor", "boto3", "botocore", "azure-storage-blob",
        "azure-identity", "azure-core", "cryptography", "lxml", "beautifulsoup4", "ipython", "ipykernel",
        "jupyter", "notebook", "ruamel-yaml", "pyparsing", "cycler", "kiwisolver", "fonttools", "contourpy",
        "grpcio", "redis", "psycopg2", "pymysql", "pyodbc", "shapely", "pyproj", "geopandas", "rasterio",
        "multiprocess", "tabulate", "toolz", "cachetools", "python-snappy", "pyqt5", "pywin32", "openai",
    }
)  # fmt: skip

#: Conda packages that only carry native libraries, compilers, the interpreter's own pieces or installer tools:
#: PyPI wheels bundle what they need and the environment brings its own installer, so these are dropped.
CONDA_ONLY: frozenset[str] = frozenset(
    {
        # installers and conda itself
        "pip", "wheel", "conda", "mamba", "conda-package-handling", "python-abi",
        # CUDA and GPU runtimes (torch, tensorflow and onnxruntime wheels bring their own or use the driver's)
        "cudatoolkit", "cudnn", "cuda-version", "pytorch-cuda", "cpuonly", "cuda-toolkit", "cuda-runtime",
        "cuda-libraries", "cuda-cudart", "cuda-nvcc", "cuda-nvrtc", "cuda-cupti", "cuda-nvtx", "libcublas",
        "libcufft", "libcurand", "libcusolver", "libcusparse", "libnvjitlink", "nccl", "magma", "cutensor",
        "pytorch-mutex", "tensorflow-select",
        # BLAS, LAPACK and OpenMP builds
        "mkl", "mkl-service", "mkl-fft", "mkl-random", "mkl-include", "intel-openmp", "blas", "libblas",
        "libcblas", "liblapack", "liblapacke", "openblas", "libopenblas", "nomkl", "llvm-openmp", "libgomp", "tbb",
        # the C and C++ runtimes and toolchains
        "libgcc-ng", "libstdcxx-ng", "libgcc", "libstdcxx", "libgfortran-ng", "libgfortran", "libgfortran5",
        "ld-impl-linux-64", "vc", "vs2015-runtime", "vc14-runtime", "ucrt", "sysroot-linux-64",
        "kernel-headers-linux-64",
        # the interpreter's own libraries
        "ca-certificates", "openssl", "libffi", "zlib", "libzlib", "xz", "liblzma", "bzip2", "ncurses", "readline",
        "sqlite", "libsqlite", "tk", "libuuid", "libnsl", "libxcrypt", "expat", "libexpat", "tzdata", "libedit",
        "libmpdec",
        # native libraries that wheels vendor
        "libprotobuf", "libabseil", "re2", "libre2-11", "libgrpc", "grpc-cpp", "libthrift", "libutf8proc", "orc",
        "libarrow", "libparquet", "parquet-cpp", "aws-sdk-cpp", "aws-crt-cpp", "aws-checksums", "snappy", "lz4-c",
        "zstd", "libcurl", "krb5", "c-ares", "libssh2", "libnghttp2", "libev", "libevent", "libsodium", "icu",
        "libiconv", "libxml2", "libxslt", "jpeg", "libjpeg-turbo", "libpng", "libtiff", "libwebp", "libwebp-base",
        "lcms2", "openjpeg", "freetype", "libdeflate", "giflib", "hdf5", "libnetcdf", "zeromq", "yaml", "libopencv",
        "glib", "gflags", "glog", "libuv", "libllvm14", "libllvm15", "libllvm16", "libllvm17", "libboost",
        "boost-cpp", "libhwloc", "ffmpeg", "libsentencepiece", "libxgboost", "liblightgbm", "libtorch",
    }
)  # fmt: skip

#: Name prefixes of conda-only families (metapackages such as `_libgcc_mutex`, X11 and AWS C libraries).
CONDA_ONLY_PREFIXES = ("_", "xorg-", "aws-c-", "m2w64-", "msys2-")
