"""iepwatch: IEP compliance pipeline."""
