"""GAN Playground core: configs, data, models, objectives, training, run folders and jobs.

The core never imports streamlit; the dashboard in ``playground.ui`` builds on it.
"""

__version__ = "0.1.0"
