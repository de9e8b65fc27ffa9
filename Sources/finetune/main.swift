import FinetuneCLI

Finetune.main()
