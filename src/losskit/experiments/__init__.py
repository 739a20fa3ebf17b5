"""The compare job: measure on real data how each loss behaves (``losskit compare``).

Modules, in the order data flows through them:

* :mod:`.config` - the job's options, parsed and checked (:class:`~.config.UsageError`);
* :mod:`.datasets` - bundled scikit-learn sets and the user's CSV / Parquet, the fixed split;
* :mod:`.corruption` - outliers and label noise on the training split;
* :mod:`.model`, :mod:`.batched`, :mod:`.single` - paired initialisation, the batched trainer, the plain loop;
* :mod:`.analysis`, :mod:`.claims` - intervals over seeds and the verdicts;
* :mod:`.report`, :mod:`.plots`, :mod:`.store`, :mod:`.runner` - outputs, resumable execution.

Nothing is imported here, so ``import losskit.experiments`` stays cheap.
"""
